// wall_time_ms ends a job on time and leaves nothing running (issue: cell, item 6).
#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

TEST(WallTime, SleeperEndsWithinAHundredMillisecondsOfTheLimit) {
  std::string marker = unique_marker("sleeper");
  JobSpec j = sh("sleep 1000 & sh -c 'sleep 1000' " + marker + " & wait");
  j.limits.wall_time_ms = 500;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_GE(r.stats.wall_time_ms, 500);
  EXPECT_LT(r.stats.wall_time_ms, 600);
  EXPECT_TRUE(host_processes_with(marker).empty());
}

TEST(WallTime, ABusyLoopIsStoppedToo) {
  JobSpec j = sh("while :; do :; done");
  j.limits.wall_time_ms = 300;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_LT(r.stats.wall_time_ms, 400);
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
  EXPECT_LT(r.stats.wall_time_ms, 400);
}

}  // namespace
}  // namespace cellblock::test
