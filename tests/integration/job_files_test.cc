// Files in and out of a job in the native format ("files", "collect"; docs/api.md), through the
// real clients: `cellblock run --job` and POST /v1/jobs on `cellblock serve` with curl.
#include <gmock/gmock.h>

#include "tests/integration/gojudge_test_util.h"
#include "tests/integration/service_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

// `cellblock run --job` with `job` (the scratch's state directory and cgroup subtree); the
// result it printed.
json run_job(const Scratch& s, const json& job) {
  std::vector<std::string> argv{kCellblockBinary};
  for (const std::string& a : s.global_args({"run", "--job", s.write("job.json", job.dump())})) argv.push_back(a);
  Ran r = run_program(s, "run", argv);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? json::parse(r.out) : json::object();
}

json sh_job(const std::string& script) {
  return {{"rootfs", kRootfs}, {"command", {"/bin/sh", "-c", script}}, {"env", {{"PATH", "/usr/bin:/bin"}}}};
}

// The tmpfs working directories mounted under the scratch: none once a job has its result.
bool no_work_mounts(const Scratch& s) {
  return read_file("/proc/self/mountinfo").find(s.path("state/work")) == std::string::npos;
}

TEST(JobFiles, CliRunWritesFilesAndCollectsTextBinaryAndPerFileErrors) {
  Scratch s("job-files-cli");
  const std::string host_file = s.write("host-input", "from the operator\n");
  json job = sh_job("cat /w/in.txt /w/src/host > /w/out.txt; cat /w/bin > /w/copy.bin; "
                    "head -c 100 /dev/zero > /w/big; mkdir /w/dir; echo $(pwd)");
  job["cwd"] = "/w";
  job["files"] = {{"/w/in.txt", {{"content", "typed in\n"}}},
                  {"/w/bin", {{"base64", "AP8BAg=="}}},
                  {"/w/src/host", {{"src", host_file}}}};
  job["collect"] = {{{"path", "/w/out.txt"}}, {{"path", "/w/copy.bin"}}, {{"path", "/w/missing"}},
                    {{"path", "/w/big"}, {"max_bytes", 10}}, {{"path", "/w/dir"}}};
  json r = run_job(s, job);
  EXPECT_EQ(r["status"], "exited") << r;
  EXPECT_EQ(r["exit_code"], 0) << r;
  EXPECT_EQ(r["stdout"], "/w\n");
  const json& c = r["collected"];
  EXPECT_EQ(c["/w/out.txt"], json({{"content", "typed in\nfrom the operator\n"}})) << r;
  EXPECT_EQ(c["/w/copy.bin"], json({{"base64", "AP8BAg=="}})) << r;
  EXPECT_EQ(c["/w/missing"]["reason"], "missing") << r;
  EXPECT_EQ(c["/w/big"]["reason"], "too_large") << r;
  EXPECT_THAT(c["/w/big"]["error"].get<std::string>(), HasSubstr("10 bytes"));
  EXPECT_EQ(c["/w/dir"]["reason"], "not_regular") << r;
  EXPECT_TRUE(no_work_mounts(s));
}

TEST(JobFiles, ACollectedPathThatLeadsToAHostFileIsRefusedAndLeaksNothing) {
  Scratch s("job-files-symlink");
  // A secret on the host, made here (a guest machine may have no /etc/shadow).
  const std::string secret = "host-secret-" + std::to_string(::getpid());
  const std::string secret_path = s.write("secret", secret + "\n");
  const std::string host_dir = secret_path.substr(0, secret_path.rfind('/'));
  json job = sh_job("cd /w; ln -s " + secret_path + " out; ln -s ../../../../../../.." + secret_path +
                    " up; mkdir -p d; ln -s " + host_dir + " d/host; mkfifo fifo; ln -s /proc/self/root/" +
                    secret_path + " magic");
  job["collect"] = {{{"path", "/w/out"}}, {{"path", "/w/up"}}, {{"path", "/w/d/host/secret"}},
                    {{"path", "/w/fifo"}}, {{"path", "/w/magic"}}};
  json r = run_job(s, job);
  EXPECT_EQ(r["status"], "exited") << r;
  const json& c = r["collected"];
  for (const char* path : {"/w/out", "/w/up", "/w/fifo"}) {
    EXPECT_EQ(c[path]["reason"], "not_regular") << path << " " << r;
  }
  // Resolved inside /w, where there is no such file (and no /proc).
  EXPECT_TRUE(c["/w/d/host/secret"].contains("error")) << r;
  EXPECT_TRUE(c["/w/magic"].contains("error")) << r;
  EXPECT_THAT(r.dump(), Not(HasSubstr(secret)));
  EXPECT_TRUE(no_work_mounts(s));
}

TEST(JobFiles, BadFilesAreRejectedByTheCliNamingTheField) {
  Scratch s("job-files-bad");
  json job = sh_job("true");
  job["files"] = {{"/etc/passwd", {{"content", "x"}}}};
  std::vector<std::string> argv{kCellblockBinary};
  for (const std::string& a : s.global_args({"run", "--job", s.write("job.json", job.dump())})) argv.push_back(a);
  Ran r = run_program(s, "run", argv);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("files.\"/etc/passwd\""));
  EXPECT_THAT(r.err, HasSubstr("not under /w/"));
}

TEST(JobFiles, ServiceJobsGetFilesInAndOutAndNoHostFiles) {
  Scratch s("job-files-serve");
  Serve serve(s, "serve", {});
  json job = {{"command", {"/bin/sh", "-c", "tr a-z A-Z < /w/in > /w/out"}},
              {"files", {{"/w/in", {{"content", "shout\n"}}}}},
              {"collect", {{{"path", "/w/out"}, {"max_bytes", 100}}}}};
  Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs?wait=120");
  ASSERT_EQ(ran.code, 200) << ran.body;
  json record = json::parse(ran.body);
  EXPECT_EQ(record["result"]["status"], "exited") << record;
  EXPECT_EQ(record["result"]["collected"]["/w/out"], json({{"content", "SHOUT\n"}})) << record;
  // The same result again from GET: collected files are part of the kept result.
  Http got = curl_unix(s, serve, {}, "/v1/jobs/" + record["id"].get<std::string>());
  EXPECT_EQ(json::parse(got.body)["result"]["collected"]["/w/out"]["content"], "SHOUT\n") << got.body;

  // A client must not make the service read its own files.
  const std::string secret_path = s.write("secret", "service-secret\n");
  json src = {{"command", {"/bin/cat", "/w/in"}}, {"files", {{"/w/in", {{"src", secret_path}}}}}};
  Http refused = curl_unix(s, serve, {"-X", "POST", "--data-binary", src.dump()}, "/v1/jobs?wait=120");
  EXPECT_EQ(refused.code, 400) << refused.body;
  json error = json::parse(refused.body);
  EXPECT_EQ(error["field"], "files.\"/w/in\".src") << refused.body;
  EXPECT_THAT(refused.body, Not(HasSubstr("service-secret")));
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(), 0) << serve.err();
}

// "keep": the service puts the collected file in its file store and the result names its id;
// the id works on /v1/files and go-judge's /file alike, survives a restart, and a full store is
// that file's error while the job's result stands.
TEST(JobFiles, KeptFilesComeBackByIdFromEitherApiAndAFullStoreIsThatFilesError) {
  Scratch s("job-files-keep");
  const std::string binary("\x7f" "ELF\0\x01\xff", 7);
  json job = {{"command", {"/bin/sh", "-c", "printf '\\177ELF\\000\\001\\377' > /w/a.out; echo small > /w/log"}},
              {"collect", {{{"path", "/w/a.out"}, {"keep", true}}, {{"path", "/w/log"}}}}};
  std::string id, job_id;
  {
    Serve serve(s, "serve", {"--file-store-max", "10"});
    Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs?wait=120");
    ASSERT_EQ(ran.code, 200) << ran.body;
    job_id = json::parse(ran.body)["id"];
    json collected = json::parse(ran.body)["result"]["collected"];
    ASSERT_TRUE(collected["/w/a.out"].contains("file_id")) << collected;
    EXPECT_EQ(collected["/w/a.out"]["bytes"], binary.size()) << collected;
    EXPECT_FALSE(collected["/w/a.out"].contains("base64")) << collected;
    EXPECT_EQ(collected["/w/log"], json({{"content", "small\n"}})) << "not kept: inline as before";
    id = collected["/w/a.out"]["file_id"];
    EXPECT_EQ(curl_unix(s, serve, {}, "/v1/files/" + id).body, binary);
    EXPECT_EQ(curl_unix(s, serve, {}, "/file/" + id).body, binary) << "go-judge's route, the same store";
    // Built with /v1, used by a go-judge cmd's copyIn.
    json use = gojudge_test::cmd({"/bin/sh", "-c", "wc -c < a.out"});
    use["copyIn"] = {{"a.out", {{"fileId", id}}}};
    json used = gojudge_test::run_ok(s, serve, {{"cmd", {use}}})[0];
    EXPECT_EQ(used["files"]["stdout"], std::to_string(binary.size()) + "\n") << used;
    json listed = json::parse(curl_unix(s, serve, {}, "/v1/files").body);
    ASSERT_EQ(listed["files"].size(), 1u) << listed;
    EXPECT_EQ(listed["files"][0], json({{"id", id}, {"name", "a.out"}, {"bytes", binary.size()}})) << listed;

    // The store holds 10 bytes: a second copy does not fit, and only that file says so.
    Http full = curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs?wait=120");
    ASSERT_EQ(full.code, 200) << full.body;
    json result = json::parse(full.body)["result"];
    EXPECT_EQ(result["status"], "exited") << result;
    EXPECT_EQ(result["collected"]["/w/a.out"]["reason"], "failed") << result;
    EXPECT_THAT(result["collected"]["/w/a.out"]["error"].get<std::string>(), HasSubstr("file store is full"));
    EXPECT_EQ(result["collected"]["/w/log"]["content"], "small\n") << result;
    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(), 0) << serve.err();
  }
  Serve again(s, "serve-again", {"--file-store-max", "10"});
  EXPECT_EQ(curl_unix(s, again, {}, "/v1/files/" + id).body, binary) << "kept across a restart";
  json record = json::parse(curl_unix(s, again, {}, "/v1/jobs/" + job_id).body);
  EXPECT_EQ(record["result"]["collected"]["/w/a.out"]["file_id"], id) << "the journaled result names it";
  EXPECT_EQ(curl_unix(s, again, {"-X", "DELETE"}, "/v1/files/" + id).code, 200);
  Http gone = curl_unix(s, again, {}, "/v1/files/" + id);
  EXPECT_EQ(gone.code, 404) << gone.body;
  EXPECT_EQ(json::parse(gone.body)["field"], "id") << gone.body;
}

}  // namespace
}  // namespace cellblock::test
