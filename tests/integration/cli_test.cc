// `cellblock run` end to end: the binary, its exit codes and its JSON.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

struct Output {
  int exit_code;
  std::string out, err;
};

Output run_cli(const std::string& args, const std::string& stdin_text = "") {
  std::string dir = std::filesystem::temp_directory_path() / ("cellblock-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/in") << stdin_text;
  std::string cmd = std::string(kCellblockBinary) + " " + args + " <" + dir + "/in >" + dir + "/out 2>" + dir + "/err";
  int status = std::system(cmd.c_str());
  Output o{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir + "/out"), read_file(dir + "/err")};
  std::filesystem::remove_all(dir);
  return o;
}

TEST(Cli, RunWithFlagsPrintsTheResult) {
  Output o = run_cli(std::string("run --rootfs ") + kRootfs + " --env GREETING=hi --hostname box --wall-time 5s -- "
                     "/bin/sh -c 'echo $GREETING from $(hostname); exit 3'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  Result r = result_from_json(nlohmann::json::parse(o.out));
  EXPECT_EQ(r.status, Status::exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_data, "hi from box\n");
}

TEST(Cli, RunWithAJobFile) {
  std::string path = std::filesystem::temp_directory_path() / ("cellblock-job-" + std::to_string(getpid()) + ".json");
  nlohmann::json job = {{"id", "file-job"}, {"rootfs", kRootfs}, {"command", {"/bin/cat"}}, {"stdin", "fed\n"},
                        {"limits", {{"wall_time_ms", 5000}}}};
  std::ofstream(path) << job.dump();
  Output o = run_cli("run --job " + path);
  std::filesystem::remove(path);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json result = nlohmann::json::parse(o.out);
  EXPECT_EQ(result["id"], "file-job");
  EXPECT_EQ(result["status"], "exited");
  EXPECT_EQ(result["stdout"], "fed\n");
  EXPECT_EQ(result["exit_code"], 0);
  EXPECT_TRUE(result["signal"].is_null());
  EXPECT_TRUE(result["error"].is_null());
  EXPECT_TRUE(result["stats"].contains("wall_time_ms"));
}

// --breakdown covers the whole process, from main() (and the CPU it used before main) to the
// result: the process's own steps, then the launch's, adding up to the total.
TEST(Cli, BreakdownCoversTheWholeProcess) {
  Output o = run_cli(std::string("run --breakdown --rootfs ") + kRootfs + " -- /bin/true");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json result = nlohmann::json::parse(o.out);
  ASSERT_EQ(result["status"], "exited") << o.out;
  std::vector<std::string> names;
  double sum = 0, total = -1;
  for (const nlohmann::json& s : result["breakdown"]) {
    names.push_back(s["step"].get<std::string>());
    EXPECT_GE(s["ms"].get<double>(), 0.0) << s.dump();
    if (names.back() == "total") total = s["ms"].get<double>();
    else sum += s["ms"].get<double>();
  }
  ASSERT_GE(names.size(), 8u) << o.out;
  const std::vector<std::string> process_steps{"process_start", "command_line", "job_read", "policy", "executor_start"};
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5), process_steps) << o.out;
  for (const char* launch_step : {"cgroup_create", "launch_init", "exec_and_run", "cgroup_remove", "executor_other"})
    EXPECT_NE(std::find(names.begin(), names.end(), launch_step), names.end()) << launch_step << " missing: " << o.out;
  EXPECT_EQ(names.back(), "total");
  EXPECT_GT(result["breakdown"][0]["ms"].get<double>(), 0.0) << "the CPU used before main";
  EXPECT_NEAR(sum, total, 0.001 + total * 1e-6) << o.out;
  EXPECT_GE(total, result["stats"]["wall_time_ms"].get<double>()) << "the process includes the job";
}

// A plain `cellblock run` does not load the libraries only other work uses: GMime (go-judge's
// uploads), libarchive (image layers), libcrypto (digests), libnftables (bridged jobs) and GLib
// (files in and out) come with their stacks on first use (jobs/gojudge/gmime_library.h,
// jobs/images/libarchive_library.h, executor/base/libcrypto_library.h, executor/net/nft.cc,
// jobs/format/file_content.cc), not at start. Checked on the live process's own memory map while
// its job runs.
TEST(Cli, RunLoadsOnlyTheLibrariesItUses) {
  const std::string dir = std::filesystem::temp_directory_path() / ("cellblock-cli-maps-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // The job says it runs, then waits for our word: meanwhile its cellblock process is alive.
  const std::string cmd = std::string(kCellblockBinary) + " run --rootfs " + kRootfs + " --mount " + dir +
                          ":/x:rw -- /bin/sh -c 'touch /x/started; while [ ! -e /x/go ]; do sleep 0.01; done' >" +
                          dir + "/out 2>" + dir + "/err </dev/null & echo $!";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  int pid = 0;
  ASSERT_EQ(std::fscanf(p, "%d", &pid), 1);
  ::pclose(p);
  while (!std::filesystem::exists(dir + "/started") && ::kill(pid, 0) == 0) ::usleep(10000);
  const std::string maps = read_file("/proc/" + std::to_string(pid) + "/maps");
  std::ofstream(dir + "/go") << "go";
  while (::kill(pid, 0) == 0) ::usleep(10000);  // not our child (the shell's): wait until it is gone
  EXPECT_THAT(maps, HasSubstr("/jobs/cellblock\n")) << "the map is cellblock's";
  EXPECT_THAT(maps, HasSubstr("libc.so.6")) << maps;
#if !defined(__SANITIZE_ADDRESS__)
  // Linked in (CMakeLists.txt): no process start pays the loader for them.
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libstdc++"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libspdlog"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libfmt"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libseccomp"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libhiredis"))) << maps;
#endif
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libgmime"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libglib-2.0"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libcrypto"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libnftables"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libgio-2.0"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libarchive"))) << maps;
  EXPECT_THAT(maps, ::testing::Not(HasSubstr("libicu"))) << maps;
  EXPECT_THAT(read_file(dir + "/out"), HasSubstr("\"status\":\"exited\"")) << read_file(dir + "/err");
  std::filesystem::remove_all(dir);
}

TEST(Cli, AJobThatCannotStartStillExitsZeroWithASetupError) {
  Output o = run_cli(std::string("run --rootfs ") + kRootfs + " -- /bin/nope");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json result = nlohmann::json::parse(o.out);
  EXPECT_EQ(result["status"], "setup_error");
  EXPECT_EQ(result["error"], "exec \"/bin/nope\": No such file or directory");
}

TEST(Cli, AnInvalidJobFileIsRejectedWithOneLine) {
  std::string path = std::filesystem::temp_directory_path() / ("cellblock-bad-" + std::to_string(getpid()) + ".json");
  std::ofstream(path) << R"({"rootfs": "/", "command": ["true"], "limits": {"wall_time": 5}})";
  Output o = run_cli("run --job " + path);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_THAT(o.err, HasSubstr("limits.wall_time: unknown key"));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;

  std::ofstream(path) << R"({"rootfs": "/", "command": ["true"],)";
  o = run_cli("run --job " + path);
  std::filesystem::remove(path);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_THAT(o.err, HasSubstr("invalid JSON"));
  EXPECT_THAT(o.err, HasSubstr("line 1"));
}

TEST(Cli, ABadFlagValueNamesTheFlag) {
  Output o = run_cli(std::string("run --rootfs ") + kRootfs + " --memory lots -- /bin/true");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_THAT(o.err, HasSubstr("--memory: \"lots\" is not a non-negative number"));
}

// main.cc builds only the verb the command line names (the others' flags cost a one-shot run
// time): help without a verb still lists every verb, a verb after global options and their
// values is found, and each verb has its own flags and --hooks.
TEST(Cli, EachVerbIsFoundAfterTheGlobalOptionsAndHelpListsThemAll) {
  Output all = run_cli("--help");
  EXPECT_EQ(all.exit_code, 0) << all.err;
  for (const char* verb : {"run", "batch", "serve", "worker", "submit", "image"}) EXPECT_THAT(all.out, HasSubstr(verb));
  Output batch = run_cli("--log-level info --state-dir /nonexistent --cgroup-subtree=x batch --help");
  EXPECT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_THAT(batch.out, HasSubstr("batch [OPTIONS]"));
  EXPECT_THAT(batch.out, HasSubstr("--hooks"));
  Output submit = run_cli("--log-level warn submit --help");
  EXPECT_THAT(submit.out, HasSubstr("submit [OPTIONS]"));
  EXPECT_THAT(submit.out, ::testing::Not(HasSubstr("--hooks")));
  // A word that is no verb: CLI11's own error, as with every verb built.
  Output none = run_cli("--log-level info nonsense");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_FALSE(none.err.empty());
  // The verb's own flags work with the globals before it.
  Output run = run_cli(std::string("--log-level=warn run --rootfs ") + kRootfs + " -- /bin/echo found");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("found\\n"));
}

// --hooks is the operator's, read once at start-up: a bad file stops every verb that runs jobs
// before anything starts, naming the field and the value; a good one runs its hooks.
}  // namespace
}  // namespace cellblock::test

namespace cellblock::test {
namespace {

TEST(Cli, AnIoDeviceThatIsNotABlockDeviceIsRejectedBeforeAnythingStarts) {
  Output o = run_cli(std::string("run --rootfs ") + kRootfs + " --io /proc:write_bps=16M -- /bin/true");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_EQ(o.out, "");
  EXPECT_THAT(o.err, ::testing::HasSubstr("limits.io[0].device: "));
  EXPECT_THAT(o.err, ::testing::HasSubstr("block device"));
}

TEST(Cli, AnUnknownPolicyIsRejectedBeforeAnythingStarts) {
  std::string path = std::filesystem::temp_directory_path() / ("cellblock-pol-" + std::to_string(getpid()) + ".json");
  std::ofstream(path) << R"({"rootfs": "/", "command": ["true"], "policy": "no-such-policy"})";
  Output o = run_cli("run --job " + path);
  std::filesystem::remove(path);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_THAT(o.err, ::testing::HasSubstr("no-such-policy"));
}

// --hooks is the operator's, read once at start-up: a bad file stops every verb that runs jobs
// before anything starts, naming the field and the value; a good one runs its hooks.
TEST(Cli, ABadHooksFileIsRejectedAtStartUpNamingTheFieldAndValue) {
  const std::string path = std::filesystem::temp_directory_path() / ("cellblock-hooks-" + std::to_string(getpid()) + ".json");
  std::ofstream(path) << R"({"prestart": [{"name": "wire", "path": "/no/such/wire"}]})";
  for (const std::string& verb : {"run --rootfs " + std::string(kRootfs) + " -- /bin/true", std::string("batch -"),
                                 std::string("serve --unix /nonexistent/dir/sock"),
                                 std::string("worker --redis redis://127.0.0.1:1 --queue q")}) {
    const std::string first = verb.substr(0, verb.find(' '));
    const std::string rest = verb.substr(verb.find(' '));
    Output o = run_cli(first + " --hooks " + path + rest);
    EXPECT_EQ(o.exit_code, 2) << verb << ": " << o.err;
    EXPECT_EQ(o.out, "") << verb;
    EXPECT_THAT(o.err, ::testing::HasSubstr("--hooks " + path + ": prestart[0].path: \"/no/such/wire\": No such file"))
        << verb;
  }
  std::ofstream(path) << R"({"poststop": [{"name": "mark", "path": "/bin/sh", "args": ["-c", "echo poststop >&2; exit 5"]}]})";
  Output o = run_cli("run --hooks " + path + " --rootfs " + kRootfs + " -- /bin/true");
  std::filesystem::remove(path);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const nlohmann::json r = nlohmann::json::parse(o.out);
  EXPECT_EQ(r["status"], "exited");
  EXPECT_EQ(r["hooks"]["poststop"][0]["name"], "mark");
  EXPECT_EQ(r["hooks"]["poststop"][0]["exit_code"], 5);
  EXPECT_EQ(r["hooks"]["poststop"][0]["stderr"], "poststop\n");
}

}  // namespace
}  // namespace cellblock::test
