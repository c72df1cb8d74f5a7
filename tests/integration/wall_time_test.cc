// wall_time_ms ends a job on time and leaves nothing running (issue: cell, item 6). "On time" is
// never before the limit and promptly after it, where promptly scales with what a trivial job
// takes on this machine now (calibration.h): about 100 ms on an idle one.
#include <gmock/gmock.h>

#include "tests/integration/calibration.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

TEST(WallTime, SleeperEndsPromptlyAtTheLimit) {
  std::string marker = unique_marker("sleeper");
  JobSpec j = sh("sleep 1000 & sh -c 'sleep 1000' " + marker + " & wait");
  j.limits.wall_time_ms = 500;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_GE(r.stats.wall_time_ms, 500);
  EXPECT_LT(r.stats.wall_time_ms, 500 + promptly_ms());
  EXPECT_TRUE(host_processes_with(marker).empty());
}

TEST(WallTime, ABusyLoopIsStoppedToo) {
  JobSpec j = sh("while :; do :; done");
  j.limits.wall_time_ms = 300;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_GE(r.stats.wall_time_ms, 300);
  EXPECT_LT(r.stats.wall_time_ms, 300 + promptly_ms());
}

TEST(WallTime, AStoppedProcessIsStillEnded) {
  JobSpec j = sh("kill -STOP $$");
  j.limits.wall_time_ms = 300;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
}

TEST(WallTime, AJobWithinItsLimitReportsItsWallTime) {
  JobSpec j = sh("sleep 0.2");
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_GE(r.stats.wall_time_ms, 200);
  EXPECT_LT(r.stats.wall_time_ms, 200 + promptly_ms(200));
}

}  // namespace
}  // namespace cellblock::test
