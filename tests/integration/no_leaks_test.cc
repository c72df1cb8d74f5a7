// Nothing is left on the host after any job, however it ended: no process, mount, tmpfs,
// cgroup or supervisor fd (issue: cell, item 8).
#include <filesystem>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

TEST(NoLeaks, TwoHundredJobsOfEveryKindLeaveNothingBehind) {
  std::vector<JobSpec> kinds;
  kinds.push_back(sh("echo ok"));
  kinds.push_back(sh("exit 3"));
  kinds.push_back(sh("kill -SEGV $$"));
  kinds.push_back(job({"/bin/nope"}));
  JobSpec bad_mount = sh("true");
  bad_mount.mounts.push_back({"/nonexistent", "/x", true});
  kinds.push_back(bad_mount);
  JobSpec sleeper = sh("sleep 100");
  sleeper.limits.wall_time_ms = 50;
  kinds.push_back(sleeper);
  JobSpec flood = job({"/bin/yes"});
  flood.limits.output_bytes = 10000;
  kinds.push_back(flood);
  kinds.push_back(sh("setsid sh -c 'sleep 100' & echo daemon"));
  kinds.push_back(sh("i=0; while [ $i -lt 20 ]; do sh -c 'true & exit'; i=$((i+1)); done"));
  JobSpec filler = sh("dd if=/dev/zero of=/tmp/fill bs=64k 2>/dev/null; echo full");
  filler.limits.writable_bytes = 1 << 20;
  kinds.push_back(filler);
  JobSpec bound = sh("ls /in >/dev/null");
  bound.mounts.push_back({"/tmp", "/in", true});
  kinds.push_back(bound);

  run(sh("true"));  // the first job opens what the executor keeps for its lifetime
  const std::set<std::string> fds = open_fds();
  const std::string mounts = read_file("/proc/self/mountinfo");
  const std::vector<int> children = children_of_this_process();
  const std::vector<std::string> cgroups = job_cgroups();
  ASSERT_TRUE(children.empty());
  ASSERT_TRUE(cgroups.empty());

  std::map<Status, int> seen;
  for (int i = 0; i < 200; ++i) seen[run(kinds[i % kinds.size()]).status]++;

  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(read_file("/proc/self/mountinfo"), mounts);
  EXPECT_EQ(children_of_this_process(), children);
  EXPECT_EQ(job_cgroups(), cgroups);
  // Every kind ended the way it should, so the loop really exercised each path.
  EXPECT_GT(seen[Status::exited], 0);
  EXPECT_GT(seen[Status::signaled], 0);
  EXPECT_GT(seen[Status::setup_error], 0);
  EXPECT_GT(seen[Status::wall_time_limit], 0);
  EXPECT_GT(seen[Status::output_limit], 0);
  EXPECT_EQ(seen[Status::internal_error], 0);
}

}  // namespace
}  // namespace cellblock::test
