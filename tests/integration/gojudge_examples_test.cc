// go-judge's own examples replayed on `cellblock serve` (docs/go-judge.md) through curl over the
// service's unix socket: a C program compiled by the host's gcc, bound read-only into the cell,
// and kept with copyOutCached, then run by its fileId with stdin; a wall-clock Time Limit
// Exceeded; a copyOut past copyOutMax; and "Dangerous Syscall" under a policy that kills.
#include <gmock/gmock.h>

#include "tests/integration/calibration.h"
#include "tests/integration/gojudge_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using gojudge_test::cmd;
using gojudge_test::kMiB;
using gojudge_test::kNsPerMs;
using gojudge_test::run_ok;
using gojudge_test::sh;
using gojudge_test::work_mounts;

constexpr char kSumProgram[] = R"(#include <stdio.h>
int main(void) {
  long a, b;
  if (scanf("%ld %ld", &a, &b) != 2) { fputs("expected two numbers\n", stderr); return 1; }
  printf("%ld\n", a + b);
  return 0;
}
)";

// The service's defaults with the host's /usr bound read-only into the busybox rootfs, as
// examples/demo.jsonl does for its build: gcc, its tools and the C library.
std::string defaults_with_host_usr(const Scratch& s) {
  json mounts = {{{"source", "/usr"}, {"target", "/usr"}}, {{"source", "/usr/lib"}, {"target", "/lib"}}};
  if (std::filesystem::exists("/usr/lib64")) mounts.push_back({{"source", "/usr/lib64"}, {"target", "/lib64"}});
  return s.write("defaults-usr.json", json{{"rootfs", kRootfs}, {"mounts", mounts}}.dump());
}

TEST(GoJudgeExamples, CompileWithTheHostsGccThenRunTheBinaryByFileIdWithStdin) {
  Scratch s("gojudge-gcc");
  Serve serve(s, "serve", {}, false, defaults_with_host_usr(s));
  // Room for gcc on a busy machine: the limit only has to let it finish.
  const uint64_t clock_ns = static_cast<uint64_t>(std::max(120'000.0, 200 * promptly_ms())) * kNsPerMs;
  json compile = cmd({"/usr/bin/gcc", "-O2", "-o", "a", "a.c"});
  compile["cpuLimit"] = clock_ns;
  compile["clockLimit"] = clock_ns;
  compile["memoryLimit"] = 512 * kMiB;
  compile["copyIn"] = {{"a.c", {{"content", kSumProgram}}}};
  compile["copyOut"] = {"stdout", "stderr"};
  compile["copyOutCached"] = {"a"};
  json built = run_ok(s, serve, {{"cmd", {compile}}})[0];
  ASSERT_EQ(built["status"], "Accepted") << built;
  EXPECT_EQ(built["files"]["stderr"], "") << built;
  const std::string id = built["fileIds"]["a"];
  // An ELF binary in the store.
  const std::string binary = curl_unix(s, serve, {}, "/file/" + id).body;
  EXPECT_EQ(binary.substr(0, 4), "\x7f" "ELF");
  EXPECT_FALSE(std::filesystem::exists(s.path("state/gojudge/work/1/a"))) << "the working directory is gone";

  // Run it by fileId, twice in one request: two inputs, one of them wrong.
  json run = cmd({"./a"}, "40 2\n");
  run["copyIn"] = {{"a", {{"fileId", id}}}};
  json bad_input = run;
  bad_input["files"][0]["content"] = "forty-two\n";
  json r = run_ok(s, serve, {{"cmd", {run, bad_input}}});
  EXPECT_EQ(r[0]["status"], "Accepted") << r;
  EXPECT_EQ(r[0]["files"]["stdout"], "42\n") << r;
  EXPECT_EQ(r[1]["status"], "Nonzero Exit Status") << r;
  EXPECT_EQ(r[1]["exitStatus"], 1) << r;
  EXPECT_EQ(r[1]["files"]["stderr"], "expected two numbers\n") << r;
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); }));
}

TEST(GoJudgeExamples, TimeLimitExceededOnClockLimitAndAFilePastCopyOutMax) {
  Scratch s("gojudge-clock");
  Serve serve(s, "serve", {});
  const uint64_t clock_ns = 300 * kNsPerMs;
  json sleeper = sh("sleep 100");
  sleeper["clockLimit"] = clock_ns;
  json writer = sh("head -c 100 /dev/zero > big; echo small > small");
  writer["copyOut"] = {"big", "small"};
  writer["copyOutMax"] = 10;
  json r = run_ok(s, serve, {{"cmd", {sleeper, writer}}});
  EXPECT_EQ(r[0]["status"], "Time Limit Exceeded") << r;
  EXPECT_GE(r[0]["runTime"].get<uint64_t>(), clock_ns) << r;
  // Sleeping costs next to no CPU: it was the clock that ended it.
  EXPECT_LT(r[0]["time"].get<uint64_t>(), clock_ns) << r;
  EXPECT_EQ(r[1]["status"], "File Error") << r;
  EXPECT_EQ(r[1]["fileError"][0]["name"], "big") << r;
  EXPECT_EQ(r[1]["fileError"][0]["type"], "CopyOutSizeExceeded") << r;
  EXPECT_FALSE(r[1]["files"].contains("big")) << r;
  EXPECT_EQ(r[1]["files"]["small"], "small\n") << r;
}

// The shipped policies answer a denied syscall with an errno (docs/policies.md), so "Dangerous
// Syscall" needs a policy that kills: here the default policy with mount(2) moved from its EPERM
// rule to a kill_process rule, named by path in the service's --defaults.
std::string policy_that_kills_on_mount(const Scratch& s) {
  json policy = json::parse(read_file(std::string(CELLBLOCK_POLICIES_DIR) + "/default.json"));
  bool moved = false;
  for (json& rule : policy["seccomp"]["syscalls"]) {
    auto& names = rule["names"];
    auto it = std::find(names.begin(), names.end(), "mount");
    if (it == names.end()) continue;
    names.erase(it);
    moved = true;
  }
  EXPECT_TRUE(moved) << "default.json has no rule for mount";
  policy["seccomp"]["syscalls"].push_back(
      {{"comment", "test: a forbidden call ends the program"}, {"names", {"mount"}}, {"action", "kill_process"}});
  return s.write("kills-on-mount.json", policy.dump(2));
}

TEST(GoJudgeExamples, DangerousSyscallUnderAPolicyThatKills) {
  Scratch s("gojudge-dangerous");
  const std::string defaults =
      s.write("defaults-kill.json", json{{"rootfs", kRootfs}, {"policy", policy_that_kills_on_mount(s)}}.dump());
  Serve serve(s, "serve", {}, false, defaults);
  // busybox mount calls mount(2): the kernel kills it with SIGSYS. The same policy lets a
  // program that makes no such call run to the end.
  json r = run_ok(s, serve, {{"cmd", {sh("echo before; exec mount -t tmpfs none /tmp"), sh("echo fine")}}});
  EXPECT_EQ(r[0]["status"], "Dangerous Syscall") << r;
  EXPECT_EQ(r[0]["exitStatus"], SIGSYS) << r;
  EXPECT_EQ(r[0]["files"]["stdout"], "before\n") << r;
  EXPECT_EQ(r[1]["status"], "Accepted") << r;
  EXPECT_EQ(r[1]["files"]["stdout"], "fine\n") << r;
  // Under the shipped default policy the same call gets EPERM and the program goes on.
  Scratch plain("gojudge-dangerous-plain");
  Serve shipped(plain, "serve", {});
  json e = run_ok(plain, shipped, {{"cmd", {sh("mount -t tmpfs none /tmp; echo went on")}}})[0];
  EXPECT_EQ(e["status"], "Accepted") << e;
  EXPECT_EQ(e["files"]["stdout"], "went on\n") << e;
  EXPECT_THAT(e["files"]["stderr"].get<std::string>(), HasSubstr("permission denied")) << e;
}

}  // namespace
}  // namespace cellblock::test
