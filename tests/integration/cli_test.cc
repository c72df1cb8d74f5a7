// `cellblock run` end to end: the binary, its exit codes and its JSON.
#include <sys/wait.h>

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
