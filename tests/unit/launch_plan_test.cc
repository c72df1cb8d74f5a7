#include "executor/plan.h"

#include <gmock/gmock.h>

namespace cellblock {
namespace {

TEST(NormalizeCellPath, CollapsesAndRefuses) {
  EXPECT_EQ(normalize_cell_path("t", "/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(normalize_cell_path("t", "/"), "/");
  EXPECT_THROW(normalize_cell_path("t", "a/b"), SetupError);
  EXPECT_THROW(normalize_cell_path("t", "/a/../b"), SetupError);
  EXPECT_THROW(normalize_cell_path("t", ""), SetupError);
}

JobSpec job_in_root() {
  JobSpec j;
  j.rootfs = "/";
  j.command = {"ls", "-l"};
  return j;
}

TEST(LaunchPlan, SearchesTheJobsPathNotTheHosts) {
  JobSpec j = job_in_root();
  j.env["PATH"] = "/opt/bin::/bin";
  LaunchPlan p = make_launch_plan(j, {"/stage"});
  std::vector<std::string> expected = {"/opt/bin/ls", "./ls", "/bin/ls"};
  EXPECT_EQ(p.exec_candidates, expected);
  ASSERT_EQ(p.argv.size(), 3u);
  EXPECT_STREQ(p.argv[0], "ls");
  EXPECT_EQ(p.argv[2], nullptr);
  ASSERT_EQ(p.envp.size(), 2u);
  EXPECT_STREQ(p.envp[0], "PATH=/opt/bin::/bin");
}

TEST(LaunchPlan, ACommandWithASlashIsUsedAsIs) {
  JobSpec j = job_in_root();
  j.command = {"./run.sh"};
  EXPECT_EQ(make_launch_plan(j, {"/stage"}).exec_candidates, std::vector<std::string>{"./run.sh"});
}

TEST(LaunchPlan, RefusesRootfsPathsOverlayCannotTake) {
  JobSpec j = job_in_root();
  j.rootfs = "/tmp/a,b";
  try {
    make_launch_plan(j, {"/stage"});
    FAIL();
  } catch (const SetupError& e) {
    // Checked for existence first; either way the message names the field and value.
    EXPECT_THAT(e.what(), ::testing::StartsWith("rootfs \"/tmp/a,b\": "));
  }
}

TEST(LaunchPlan, RefusesMountsOverWhatTheCellProvides) {
  JobSpec j = job_in_root();
  j.mounts.push_back({"/tmp", "/proc/sys", false});
  EXPECT_THROW(make_launch_plan(j, {"/stage"}), SetupError);
  j.mounts = {{"/tmp", "/", true}};
  EXPECT_THROW(make_launch_plan(j, {"/stage"}), SetupError);
}

TEST(LaunchPlan, Rlimits) {
  JobSpec j = job_in_root();
  j.limits.open_files = 64;
  j.limits.stack_bytes = 1 << 20;
  LaunchPlan p = make_launch_plan(j, {"/stage"});
  bool nofile = false, core = false, stack = false;
  for (auto& r : p.rlimits) {
    if (r.resource == RLIMIT_NOFILE) nofile = r.value.rlim_cur == 64;
    if (r.resource == RLIMIT_CORE) core = r.value.rlim_max == 0;
    if (r.resource == RLIMIT_STACK) stack = r.value.rlim_cur == (1u << 20);
  }
  EXPECT_TRUE(nofile && core && stack);
}

}  // namespace
}  // namespace cellblock
