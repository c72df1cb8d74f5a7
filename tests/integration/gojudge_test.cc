// go-judge's API on `cellblock serve` (docs/go-judge.md) through a real client: curl over the
// service's unix socket, against real jobs in the busybox test rootfs.
#include <gmock/gmock.h>

#include "tests/integration/calibration.h"
#include "tests/integration/gojudge_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;
// The go-judge shapes, over cell_test_util.h's native ones of the same names.
using gojudge_test::cmd;
using gojudge_test::kMiB;
using gojudge_test::kNsPerMs;
using gojudge_test::post_run;
using gojudge_test::run_ok;
using gojudge_test::sh;
using gojudge_test::work_mounts;

TEST(GoJudge, AcceptedWithStdinToStdoutAndTheServiceDescribesItself) {
  Scratch s("gojudge-accepted");
  Serve serve(s, "serve", {});
  json r = run_ok(s, serve, {{"cmd", {cmd({"/bin/cat"}, "hello, judge\n")}}})[0];
  EXPECT_EQ(r["status"], "Accepted") << r;
  EXPECT_EQ(r["exitStatus"], 0);
  EXPECT_EQ(r["files"]["stdout"], "hello, judge\n");
  EXPECT_EQ(r["files"]["stderr"], "");
  // Units as go-judge's: ns and bytes. A real run takes some wall time and some memory.
  EXPECT_GT(r["runTime"].get<uint64_t>(), 0u);
  EXPECT_GT(r["memory"].get<uint64_t>(), 0u);
  EXPECT_TRUE(r["time"].is_number_unsigned());
  EXPECT_EQ(r["fileIds"], json::object());

  json version = json::parse(curl_unix(s, serve, {}, "/version").body);
  EXPECT_THAT(version["buildVersion"].get<std::string>(), HasSubstr("cellblock"));
  EXPECT_EQ(version["copyOutOptional"], true);
  EXPECT_EQ(version["pipeProxy"], false);
  Http config = curl_unix(s, serve, {}, "/config");
  ASSERT_EQ(config.code, 200);
  EXPECT_EQ(json::parse(config.body)["workDir"], "/w");
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); }));
}

TEST(GoJudge, NonzeroExitStatusAndSignalled) {
  Scratch s("gojudge-nonzero");
  Serve serve(s, "serve", {});
  json r = run_ok(s, serve, {{"cmd", {sh("echo out; echo err >&2; exit 3"), sh("kill -TERM $$")}}});
  EXPECT_EQ(r[0]["status"], "Nonzero Exit Status") << r;
  EXPECT_EQ(r[0]["exitStatus"], 3);
  EXPECT_EQ(r[0]["files"]["stdout"], "out\n");
  EXPECT_EQ(r[0]["files"]["stderr"], "err\n");
  EXPECT_EQ(r[1]["status"], "Signalled") << r;
  EXPECT_EQ(r[1]["exitStatus"], SIGTERM);
}

TEST(GoJudge, ProcPeakCountsTheTasksAliveAtOnce) {
  Scratch s("gojudge-procpeak");
  Serve serve(s, "serve", {});
  // Three children alive together for a second: the pids cgroup's peak sees them all, and
  // where the kernel has no pids.peak so does the supervisor's sampling (10 ms).
  json r = run_ok(s, serve, {{"cmd", {sh("true"), sh("sleep 1 & sleep 1 & sleep 1 & wait")}}});
  ASSERT_EQ(r[0]["status"], "Accepted") << r;
  ASSERT_EQ(r[1]["status"], "Accepted") << r;
  ASSERT_TRUE(r[0].contains("procPeak")) << r;
  EXPECT_GE(r[0]["procPeak"].get<uint64_t>(), 1u) << r;
  EXPECT_GE(r[1]["procPeak"].get<uint64_t>(), r[0]["procPeak"].get<uint64_t>() + 3) << r;
}

TEST(GoJudge, TimeLimitExceededOnCpuLimit) {
  Scratch s("gojudge-tle");
  Serve serve(s, "serve", {});
  // A clock limit far past the CPU limit, so that it is the CPU limit that ends the loop.
  const uint64_t cpu_ns = 300 * kNsPerMs;
  const uint64_t clock_ns = static_cast<uint64_t>(std::max(120'000.0, 100 * promptly_ms())) * kNsPerMs;
  json c = sh("while :; do :; done");
  c["cpuLimit"] = cpu_ns;
  c["clockLimit"] = clock_ns;
  json r = run_ok(s, serve, {{"cmd", {c}}})[0];
  EXPECT_EQ(r["status"], "Time Limit Exceeded") << r;
  EXPECT_GE(r["time"].get<uint64_t>(), cpu_ns * 9 / 10) << r;
  EXPECT_LT(r["runTime"].get<uint64_t>(), clock_ns) << r;
}

TEST(GoJudge, MemoryLimitIsEnforced) {
  Scratch s("gojudge-mle");
  Serve serve(s, "serve", {});
  // busybox dd allocates its block and fills it from /dev/zero: 64 MiB of touched memory.
  json over = sh("dd if=/dev/zero of=/dev/null bs=64M count=1");
  over["memoryLimit"] = 32 * kMiB;
  json under = over;
  under["memoryLimit"] = 256 * kMiB;
  json r = run_ok(s, serve, {{"cmd", {over, under}}});
  EXPECT_EQ(r[0]["status"], "Memory Limit Exceeded") << r;
  // The same program with room enough: the limit, nothing else, stopped the first.
  EXPECT_EQ(r[1]["status"], "Accepted") << r;
  EXPECT_GE(r[1]["memory"].get<uint64_t>(), 64 * kMiB) << r;
}

// What Hydro sends: strictMemoryLimit (dataSegmentLimit) and addressSpaceLimit put RLIMIT_DATA
// and RLIMIT_AS at the memory limit, so that an allocation past it fails in the program instead
// of an OOM kill; realCpuLimit is the wall-clock limit and wins over clockLimit.
TEST(GoJudge, StrictMemoryAddressSpaceAndRealCpuLimitsAsGoJudgeSetsThem) {
  Scratch s("gojudge-rlimits");
  Serve serve(s, "serve", {});
  json both = cmd({"/bin/cat", "/proc/self/limits"});
  both["memoryLimit"] = 64 * kMiB;
  both["strictMemoryLimit"] = true;
  both["addressSpaceLimit"] = true;
  json plain = cmd({"/bin/cat", "/proc/self/limits"});
  plain["memoryLimit"] = 64 * kMiB;
  plain["strictMemoryLimit"] = false;  // the zero value, which go-judge clients send as a matter of course
  plain["addressSpaceLimit"] = false;
  json strict = sh("dd if=/dev/zero of=/dev/null bs=128M count=1");
  strict["memoryLimit"] = 64 * kMiB;
  strict["dataSegmentLimit"] = true;
  json slow = sh("sleep 600");
  slow["clockLimit"] = 600'000 * kNsPerMs;
  slow["realCpuLimit"] = 300 * kNsPerMs;
  json r = run_ok(s, serve, {{"cmd", {both, plain, strict, slow}}});
  ASSERT_EQ(r[0]["status"], "Accepted") << r;
  const std::string limited = r[0]["files"]["stdout"];
  EXPECT_THAT(limited, ::testing::ContainsRegex("Max data size +67108864 +67108864 +bytes")) << limited;
  EXPECT_THAT(limited, ::testing::ContainsRegex("Max address space +67108864 +67108864 +bytes")) << limited;
  ASSERT_EQ(r[1]["status"], "Accepted") << r;
  const std::string unlimited = r[1]["files"]["stdout"];
  EXPECT_THAT(unlimited, ::testing::ContainsRegex("Max data size +unlimited")) << unlimited;
  EXPECT_THAT(unlimited, ::testing::ContainsRegex("Max address space +unlimited")) << unlimited;
  // dd cannot get its 128 MiB block and says so: the program's own failure, not an OOM kill.
  EXPECT_EQ(r[2]["status"], "Nonzero Exit Status") << r;
  EXPECT_EQ(r[3]["status"], "Time Limit Exceeded") << r;
  EXPECT_LT(r[3]["runTime"].get<uint64_t>(), 600'000 * kNsPerMs) << r;
}

// A judge's test data as go-judge's {"src"}: read by the service, only in the directories its
// operator allows; outside them (by the text, or through a symlink) the request is refused, and
// an unreadable file there is the cmd's File Error.
TEST(GoJudge, SrcFilesAreReadOnlyFromTheOperatorsDirectories) {
  Scratch s("gojudge-src");
  const std::string data = s.path("testdata");
  std::filesystem::create_directories(data);
  s.write("testdata/1.in", "3 4\n");
  s.write("testdata/checker.sh", "echo checked\n");
  std::filesystem::create_symlink("/etc/passwd", data + "/escape");
  s.write("testdata/big", std::string(5000, 'x'));
  // Whatever the umask: the service hands a client only what every user of the host may read.
  std::filesystem::permissions(data, std::filesystem::perms::owner_all | std::filesystem::perms::others_read |
                                         std::filesystem::perms::others_exec);
  for (const char* f : {"1.in", "checker.sh", "big"})
    std::filesystem::permissions(data + "/" + f, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                                     std::filesystem::perms::others_read);
  // --max-body also bounds what one request's src files may add up to.
  Serve serve(s, "serve", {"--allow-host-path", data, "--max-body", "8192"});
  json c = cmd({"/bin/sh", "-c", "cat; sh checker.sh"});
  c["files"][0] = {{"src", data + "/1.in"}};
  c["copyIn"] = {{"checker.sh", {{"src", data + "/checker.sh"}}}};
  json r = run_ok(s, serve, {{"cmd", {c}}})[0];
  EXPECT_EQ(r["status"], "Accepted") << r;
  EXPECT_EQ(r["files"]["stdout"], "3 4\nchecked\n") << r;

  auto refusal = [&](const std::string& src) {
    json bad = cmd({"/bin/cat"});
    bad["files"][0] = {{"src", src}};
    Http h = post_run(s, serve, {{"cmd", {bad}}});
    EXPECT_EQ(h.code, 400) << src << " -> " << h.body;
    return h.body;
  };
  EXPECT_THAT(refusal("/etc/passwd"), HasSubstr("cmd[0].files[0].src: \\\"/etc/passwd\\\" is outside the directories"));
  EXPECT_THAT(refusal(data + "/escape"), HasSubstr("through a symlink"));
  EXPECT_THAT(refusal(data + "/../../../etc/passwd"), HasSubstr("is outside the directories"));
  EXPECT_THAT(refusal(data + "/2.in"), HasSubstr("No such file or directory"));
  // Inside, but not a file to read: go-judge's CopyInOpenFile, and the cmd does not run.
  std::filesystem::create_directories(data + "/sub");
  json dir = cmd({"/bin/cat"});
  dir["copyIn"] = {{"x", {{"src", data + "/sub"}}}};
  json d = run_ok(s, serve, {{"cmd", {dir}}})[0];
  EXPECT_EQ(d["status"], "File Error") << d;
  ASSERT_EQ(d["fileError"].size(), 1u) << d;
  EXPECT_EQ(d["fileError"][0]["type"], "CopyInOpenFile") << d;
  EXPECT_THAT(d["fileError"][0]["message"].get<std::string>(), HasSubstr("is not a regular file")) << d;
  // One file of 5,000 bytes fits; named twice, the request's files do not.
  json once = cmd({"/bin/sh", "-c", "wc -c < a"});
  once["copyIn"] = {{"a", {{"src", data + "/big"}}}};
  json o = run_ok(s, serve, {{"cmd", {once}}})[0];
  EXPECT_EQ(o["status"], "Accepted") << o;
  EXPECT_EQ(o["files"]["stdout"], "5000\n") << o;
  json twice = once;
  twice["copyIn"]["b"] = {{"src", data + "/big"}};
  json t = run_ok(s, serve, {{"cmd", {twice}}})[0];
  EXPECT_EQ(t["status"], "File Error") << t;
  EXPECT_THAT(t["fileError"][0]["message"].get<std::string>(), HasSubstr("add up to more than the service's --max-body")) << t;
}

// Each fileId a cmd copies in is a copy in memory until it runs: a request's together take at
// most the file store's size, however few bytes the request itself is.
TEST(GoJudge, ARequestsFileIdsTogetherFitTheStoresSize) {
  Scratch s("gojudge-fileid-budget");
  Serve serve(s, "serve", {"--file-store-max", "10000"});
  json make = sh("head -c 6000 /dev/zero > f");
  make["copyOutCached"] = {"f"};
  json made = run_ok(s, serve, {{"cmd", {make}}})[0];
  ASSERT_EQ(made["status"], "Accepted") << made;
  const std::string id = made["fileIds"]["f"];
  json once = sh("wc -c < a");
  once["copyIn"] = {{"a", {{"fileId", id}}}};
  json o = run_ok(s, serve, {{"cmd", {once}}})[0];
  EXPECT_EQ(o["status"], "Accepted") << o;
  EXPECT_EQ(o["files"]["stdout"], "6000\n") << o;
  json twice = once;
  twice["copyIn"]["b"] = {{"fileId", id}};
  json t = run_ok(s, serve, {{"cmd", {twice}}})[0];
  EXPECT_EQ(t["status"], "File Error") << t;
  EXPECT_THAT(t["fileError"][0]["message"].get<std::string>(), HasSubstr("add up to more than the file store's size")) << t;
}

TEST(GoJudge, OutputLimitExceeded) {
  Scratch s("gojudge-ole");
  Serve serve(s, "serve", {});
  json flood = cmd({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, "", 1000);
  // Only stderr is small: stdout within its own max is fine, stderr past it is not.
  json small_stderr = sh("head -c 5000 /dev/zero | tr '\\0' y; head -c 5000 /dev/zero | tr '\\0' z >&2");
  small_stderr["files"][2]["max"] = 100;
  json r = run_ok(s, serve, {{"cmd", {flood, small_stderr}}});
  EXPECT_EQ(r[0]["status"], "Output Limit Exceeded") << r;
  EXPECT_LE(r[0]["files"]["stdout"].get<std::string>().size(), 1000u);
  EXPECT_EQ(r[1]["status"], "Output Limit Exceeded") << r;
  EXPECT_EQ(r[1]["files"]["stdout"], std::string(5000, 'y'));
  EXPECT_EQ(r[1]["files"]["stderr"], std::string(100, 'z'));
}

TEST(GoJudge, CopyInAndCopyOutThroughAPrivateWorkingDirectory) {
  Scratch s("gojudge-copy");
  Serve serve(s, "serve", {});
  json build = cmd({"/bin/sh", "run.sh"});
  build["copyIn"] = {{"run.sh", {{"content", "cat lib/greeting > out.txt; mkdir -p d; echo deep > d/x; pwd\n"}}},
                     {"lib/greeting", {{"content", "hello from copyIn\n"}}}};
  build["copyOut"] = {"stdout", "out.txt", "d/x", "maybe?"};
  // A second cmd in the same request: a job of its own, with a directory of its own.
  json other = sh("ls");
  other["copyOut"] = {"out.txt"};
  json r = run_ok(s, serve, {{"cmd", {build, other}}});
  EXPECT_EQ(r[0]["status"], "Accepted") << r;
  EXPECT_EQ(r[0]["files"]["stdout"], "/w\n");
  EXPECT_EQ(r[0]["files"]["out.txt"], "hello from copyIn\n");
  EXPECT_EQ(r[0]["files"]["d/x"], "deep\n");
  EXPECT_FALSE(r[0]["files"].contains("maybe"));
  EXPECT_FALSE(r[0].contains("fileError")) << r;
  EXPECT_EQ(r[1]["files"]["stdout"], "") << r;
  EXPECT_EQ(r[1]["status"], "File Error") << r;
  EXPECT_EQ(r[1]["fileError"][0]["name"], "out.txt");
  EXPECT_EQ(r[1]["fileError"][0]["type"], "CopyOutOpen");
  EXPECT_THAT(r[1]["error"].get<std::string>(), HasSubstr("out.txt"));
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); })) << ::testing::PrintToString(work_mounts(s));
}

TEST(GoJudge, CopyOutCachedFilesAreKeptServedAndDeleted) {
  Scratch s("gojudge-cached");
  Serve serve(s, "serve", {"--file-store-max", "64K"});
  json make = sh("printf 'echo I ran; cat' > prog.sh; head -c 70000 /dev/zero > big");
  // The same name in copyOut and copyOutCached: both answered.
  make["copyOut"] = {"prog.sh"};
  make["copyOutCached"] = {"prog.sh", "stdout"};
  json r = run_ok(s, serve, {{"cmd", {make}}})[0];
  EXPECT_EQ(r["status"], "Accepted") << r;
  EXPECT_EQ(r["files"]["prog.sh"], "echo I ran; cat");
  const std::string id = r["fileIds"]["prog.sh"];
  EXPECT_TRUE(r["fileIds"].contains("stdout"));
  EXPECT_FALSE(r["files"].contains("stdout")) << r;

  json list = json::parse(curl_unix(s, serve, {}, "/file").body);
  EXPECT_EQ(list[id], "prog.sh");
  Http got = curl_unix(s, serve, {}, "/file/" + id);
  EXPECT_EQ(got.code, 200);
  EXPECT_EQ(got.body, "echo I ran; cat");

  // A later run uses it by id, as judges run a compiled program.
  json use = cmd({"/bin/sh", "p.sh"}, "and stdin\n");
  use["copyIn"] = {{"p.sh", {{"fileId", id}}}};
  json used = run_ok(s, serve, {{"cmd", {use}}})[0];
  EXPECT_EQ(used["status"], "Accepted") << used;
  EXPECT_EQ(used["files"]["stdout"], "I ran\nand stdin\n");
  // And as stdin.
  json as_stdin = cmd({"/bin/cat"});
  as_stdin["files"][0] = {{"fileId", id}};
  json fed = run_ok(s, serve, {{"cmd", {as_stdin}}})[0];
  EXPECT_EQ(fed["files"]["stdout"], "echo I ran; cat") << fed;

  // The store is capped: a file past what is left is a File Error that says so.
  json big = sh("head -c 70000 /dev/zero > big");
  big["copyOutCached"] = {"big"};
  json full = run_ok(s, serve, {{"cmd", {big}}})[0];
  EXPECT_EQ(full["status"], "File Error") << full.dump().substr(0, 500);
  EXPECT_THAT(full["fileError"][0]["message"].get<std::string>(), HasSubstr("file store is full"));

  EXPECT_EQ(curl_unix(s, serve, {"-X", "DELETE"}, "/file/" + id).code, 200);
  EXPECT_EQ(curl_unix(s, serve, {}, "/file/" + id).code, 404);
  EXPECT_EQ(curl_unix(s, serve, {"-X", "DELETE"}, "/file/" + id).code, 404);
  EXPECT_FALSE(json::parse(curl_unix(s, serve, {}, "/file").body).contains(id));
  // A fileId that is not there: File Error, and nothing runs.
  json gone = run_ok(s, serve, {{"cmd", {use}}})[0];
  EXPECT_EQ(gone["status"], "File Error") << gone;
  EXPECT_EQ(gone["fileError"][0]["type"], "CopyInOpenFile");
}

TEST(GoJudge, BadRequestsGet400NamingTheField) {
  Scratch s("gojudge-bad");
  Serve serve(s, "serve", {"--allow-host-path", kRootfs});
  auto refused = [&](json request, const std::string& expect) {
    Http h = post_run(s, serve, request);
    EXPECT_EQ(h.code, 400) << request << " -> " << h.body;
    json body = json::parse(h.body);
    EXPECT_TRUE(body.is_string()) << h.body;
    EXPECT_THAT(h.body, HasSubstr(expect)) << request;
  };
  const json ok = sh("true");
  auto with = [&](const std::string& key, json value) {
    json c = ok;
    c[key] = std::move(value);
    return json{{"cmd", {c}}};
  };
  refused(with("cpuLimit", "1s"), R"(cmd[0].cpuLimit: expected a whole number, got \"1s\")");
  refused(with("memoryLimit", 1000), "cmd[0].memoryLimit: 1000 is too small");
  refused(with("colour", "blue"), "cmd[0].colour: unknown key");
  refused(with("copyIn", {{"a", {{"src", "/etc/shadow"}}}}),
          R"(cmd[0].copyIn.\"a\".src: \"/etc/shadow\" is outside the directories a client's job may name)");
  refused(with("copyIn", {{"/etc/passwd", {{"content", "x"}}}}), "is absolute");
  refused(with("copyIn", {{"a/../../b", {{"content", "x"}}}}), R"(\"..\")");
  refused(with("copyOut", {"../../etc/shadow"}), "cmd[0].copyOut[0]");
  refused(with("env", {"NOEQUALS"}), "cmd[0].env[0]");
  refused(with("args", json::array()), "cmd[0].args: must not be empty");
  refused(with("tty", true), "cmd[0].tty");
  refused({{"cmd", json::array()}}, "no cmd provided");
  refused({{"commands", json::array()}}, "commands: unknown key");
  Http malformed = curl_unix(s, serve, {"-X", "POST", "--data-binary", "{\"cmd\": ["}, "/run");
  EXPECT_EQ(malformed.code, 400);
  EXPECT_THAT(malformed.body, HasSubstr("invalid JSON"));
}

// A service killed while a cmd runs leaves its working directory mounted; the next service on
// that state directory unmounts and removes it at its first /run.
TEST(GoJudge, AWorkingDirectoryLeftByAKilledServiceIsRemovedByTheNext) {
  Scratch s("gojudge-crash");
  Serve serve(s, "serve", {});
  json waits = sh("touch started; while :; do sleep 1; done");
  waits["clockLimit"] = 600'000 * kNsPerMs;
  waits["cpuLimit"] = 600'000 * kNsPerMs;
  const std::string work = s.path("state/gojudge/work");
  Spawned client({"/usr/bin/curl", "-sS", "--unix-socket", serve.socket(), "-X", "POST", "--data-binary",
                  "@" + s.write("wait.json", json{{"cmd", {waits}}}.dump()), "http://localhost/run"},
                 s.path("waiting-client.out"), s.path("waiting-client.err"));
  // The job's own file in its working directory, seen from the host: it runs.
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(work + "/1/started"); }, 120s)) << serve.err();
  serve.kill9();
  EXPECT_EQ(work_mounts(s).size(), 1u);

  serve.start();
  EXPECT_EQ(run_ok(s, serve, {{"cmd", {sh("true")}}})[0]["status"], "Accepted");
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); })) << ::testing::PrintToString(work_mounts(s));
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(work); }));
  EXPECT_THAT(serve.err(), HasSubstr("removing the working directory"));
}

// A judge's round on Python's http.client (tests/service/scenarios.py go-judge), over the unix
// socket and over TCP with the token; without it, /run is refused like every route.
TEST(GoJudge, AJudgesRoundOnPythonHttpClientOverTheSocketAndTcp) {
  Scratch s("gojudge-python");
  Serve serve(s, "serve", {}, /*tcp=*/true);
  Ran unix_round = scenario(s, "go-judge-unix", {"go-judge", serve.unix_address()});
  EXPECT_EQ(unix_round.code, 0) << unix_round.err;
  Ran tcp_round = scenario(s, "go-judge-tcp", {"go-judge", serve.tcp_address(), kToken});
  EXPECT_EQ(tcp_round.code, 0) << tcp_round.err;
  EXPECT_THAT(tcp_round.out, HasSubstr("Wrong Answer"));
  Http no_token = curl(s, {"-X", "POST", "--data-binary", R"({"cmd": [{"args": ["/bin/true"]}]})", serve.tcp_url() + "/run"});
  EXPECT_EQ(no_token.code, 401);
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); }));
}

TEST(GoJudge, ACopyOutThatLeadsToAHostFileIsRefusedAndLeaksNothing) {
  Scratch s("gojudge-symlink");
  Serve serve(s, "serve", {});
  // A host file the job must not be able to read through the service: its path and its content
  // (made here, since a guest machine may have no /etc/shadow).
  const std::string secret = "host-secret-" + std::to_string(::getpid());
  const std::string secret_path = s.write("secret", secret + "\n");
  const std::string host_dir = secret_path.substr(0, secret_path.rfind('/'));
  json c = sh("ln -s " + secret_path + " out; ln -s ../../../../../../.." + secret_path + " up; mkdir -p d; ln -s " +
              host_dir + " d/host; mkfifo fifo; mkdir dir");
  c["copyOut"] = {"out", "up", "d/host/secret", "fifo", "dir"};
  c["copyOutCached"] = {"out"};
  json r = run_ok(s, serve, {{"cmd", {c}}})[0];
  EXPECT_EQ(r["status"], "File Error") << r;
  EXPECT_FALSE(r["files"].contains("out"));
  EXPECT_FALSE(r["fileIds"].contains("out"));
  std::map<std::string, std::string> types;
  for (const json& e : r["fileError"]) types[e["name"]] = e["type"];
  EXPECT_EQ(types["out"], "CopyOutNotRegularFile") << r;
  EXPECT_EQ(types["up"], "CopyOutNotRegularFile") << r;
  EXPECT_EQ(types["fifo"], "CopyOutNotRegularFile") << r;
  EXPECT_EQ(types["dir"], "CopyOutNotRegularFile") << r;
  EXPECT_TRUE(types.count("d/host/secret")) << r;  // resolved inside /w, where there is no such file
  EXPECT_THAT(r.dump(), Not(HasSubstr(secret)));
  EXPECT_TRUE(json::parse(curl_unix(s, serve, {}, "/file").body).empty());
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); }));
}

TEST(GoJudge, UploadedFilesAreKeptUsedAndSurviveARestart) {
  Scratch s("gojudge-upload");
  // Text with CRLF and a line that looks like a boundary, and a binary file: both as sent.
  const std::string script = "echo uploaded\r\n--not-a-boundary\r\n";
  const std::string binary("\x00\x01\xff\r\n--x\r\n\x7f", 10);
  const std::string script_path = s.write("prog.sh", script);
  const std::string binary_path = s.write("blob.bin", binary);
  std::string script_id, binary_id;
  {
    Serve serve(s, "serve", {"--file-store-max", "64K"});
    Http up = curl_unix(s, serve, {"-F", "file=@" + script_path}, "/file");
    ASSERT_EQ(up.code, 200) << up.body;
    script_id = json::parse(up.body).get<std::string>();
    Http up_binary = curl_unix(s, serve, {"-F", "file=@" + binary_path}, "/file");
    ASSERT_EQ(up_binary.code, 200) << up_binary.body;
    binary_id = json::parse(up_binary.body).get<std::string>();
    json list = json::parse(curl_unix(s, serve, {}, "/file").body);
    EXPECT_EQ(list[script_id], "prog.sh");
    EXPECT_EQ(list[binary_id], "blob.bin");
    EXPECT_EQ(curl_unix(s, serve, {}, "/file/" + binary_id).body, binary);

    // A run uses it by id.
    json use = cmd({"/bin/cat", "p.sh"});
    use["copyIn"] = {{"p.sh", {{"fileId", script_id}}}};
    json used = run_ok(s, serve, {{"cmd", {use}}})[0];
    EXPECT_EQ(used["status"], "Accepted") << used;
    EXPECT_EQ(used["files"]["stdout"], script);

    // Refused with the reason: no "file" field, not multipart, past the store's cap.
    Http other = curl_unix(s, serve, {"-F", "other=@" + script_path}, "/file");
    EXPECT_EQ(other.code, 400);
    EXPECT_THAT(other.body, HasSubstr("no form field named \\\"file\\\""));
    Http plain = curl_unix(s, serve, {"-X", "POST", "--data-binary", "x"}, "/file");
    EXPECT_EQ(plain.code, 400);
    EXPECT_THAT(plain.body, HasSubstr("Content-Type"));
    Http big = curl_unix(s, serve, {"-F", "file=@" + s.write("big", std::string(70000, 'x'))}, "/file");
    EXPECT_EQ(big.code, 507) << big.body;
    EXPECT_THAT(big.body, HasSubstr("file store is full"));
    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(), 0) << serve.err();
  }
  // The store is under the state directory: the next service has the files.
  Serve again(s, "serve-again", {"--file-store-max", "64K"});
  EXPECT_EQ(curl_unix(s, again, {}, "/file/" + script_id).body, script);
  EXPECT_EQ(curl_unix(s, again, {}, "/file/" + binary_id).body, binary);
  EXPECT_EQ(json::parse(curl_unix(s, again, {}, "/config").body)["fileStore"]["usedBytes"], script.size() + binary.size());
  EXPECT_EQ(curl_unix(s, again, {"-X", "DELETE"}, "/file/" + script_id).code, 200);
  EXPECT_FALSE(std::filesystem::exists(s.path("state/files/" + script_id)));
}

}  // namespace
}  // namespace cellblock::test
