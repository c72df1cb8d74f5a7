// Admission and priority order with fake jobs: no threads, no kernel.
#include "jobs/queue/scheduler.h"

#include <gmock/gmock.h>

namespace cellblock {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t MiB = 1 << 20;

TEST(Scheduler, RunsAtMostMaxRunningAtOnce) {
  Scheduler s(2, 1000 * MiB);
  for (uint64_t id = 1; id <= 5; ++id) s.push(id, 0, MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1, 2));
  EXPECT_THAT(s.admit(), IsEmpty());
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(3));
  EXPECT_EQ(s.running(), 2u);
  EXPECT_EQ(s.waiting(), 2u);
}

TEST(Scheduler, HigherPriorityFirstThenArrivalOrder) {
  Scheduler s(1, 1000 * MiB);
  s.push(1, 0, MiB);
  s.push(2, 5, MiB);
  s.push(3, 0, MiB);
  s.push(4, 5, MiB);
  s.push(5, -1, MiB);
  std::vector<uint64_t> order;
  for (int i = 0; i < 5; ++i) {
    auto started = s.admit();
    ASSERT_EQ(started.size(), 1u);
    order.push_back(started[0]);
    s.finished(started[0]);
  }
  EXPECT_THAT(order, ElementsAre(2, 4, 1, 3, 5));
}

TEST(Scheduler, AdmitsOnlyWhatFitsTheMemoryBudget) {
  Scheduler s(10, 100 * MiB);
  s.push(1, 0, 60 * MiB);
  s.push(2, 0, 30 * MiB);
  s.push(3, 0, 30 * MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1, 2));
  EXPECT_EQ(s.memory_in_use(), 90 * MiB);
  s.finished(2);
  EXPECT_THAT(s.admit(), ElementsAre(3));
  EXPECT_EQ(s.memory_in_use(), 90 * MiB);
}

TEST(Scheduler, ABigJobAtTheHeadIsNotOvertakenBySmallOnes) {
  Scheduler s(10, 100 * MiB);
  s.push(1, 0, 60 * MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1));
  s.push(2, 0, 80 * MiB);  // does not fit beside 1
  s.push(3, 0, 10 * MiB);  // would fit, but waits behind 2
  EXPECT_THAT(s.admit(), IsEmpty());
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(2, 3));
}

TEST(Scheduler, JobsLargerThanTheBudgetNeverFit) {
  Scheduler s(10, 100 * MiB);
  EXPECT_TRUE(s.fits_at_all(100 * MiB));
  EXPECT_FALSE(s.fits_at_all(101 * MiB));
}

TEST(Scheduler, RemovingAWaitingJob) {
  Scheduler s(1, 100 * MiB);
  s.push(1, 0, MiB);
  s.push(2, 0, MiB);
  s.push(3, 0, MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1));
  EXPECT_TRUE(s.remove_waiting(2));
  EXPECT_FALSE(s.remove_waiting(2));
  EXPECT_FALSE(s.remove_waiting(1));  // running, not waiting
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(3));
}

TEST(Scheduler, ClosedAdmitsNothing) {
  Scheduler s(4, 100 * MiB);
  s.push(1, 0, MiB);
  s.close();
  EXPECT_THAT(s.admit(), IsEmpty());
  EXPECT_THAT(s.waiting_ids(), ElementsAre(1));
}

TEST(Scheduler, AGangStartsWholeOrWaitsWhole) {
  Scheduler s(3, 100 * MiB);
  s.push(1, 0, MiB);
  s.push(2, 0, MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1, 2));
  // Two jobs joined by pipes: one slot is free, so neither starts (one alone would wait for
  // its partner forever), and a job behind the gang does not jump ahead either.
  s.push_gang({{3, MiB}, {4, MiB}}, 0);
  s.push(5, 0, MiB);
  EXPECT_THAT(s.admit(), IsEmpty());
  EXPECT_EQ(s.waiting(), 3u);
  EXPECT_TRUE(s.is_waiting(4));
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(3, 4));
  EXPECT_EQ(s.running(), 3u);
  s.finished(2);
  EXPECT_THAT(s.admit(), ElementsAre(5));
}

TEST(Scheduler, AGangFitsTheMemoryBudgetWithItsSum) {
  Scheduler s(10, 100 * MiB);
  s.push(1, 0, 30 * MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1));
  s.push_gang({{2, 40 * MiB}, {3, 40 * MiB}}, 0);
  EXPECT_THAT(s.admit(), IsEmpty());  // 30 + 80 > 100
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(2, 3));
  EXPECT_EQ(s.memory_in_use(), 80 * MiB);
}

TEST(Scheduler, AGangLargerThanTheParallelBoundNeverFits) {
  Scheduler s(2, 100 * MiB);
  EXPECT_TRUE(s.fits_at_all(2 * MiB, 2));
  EXPECT_FALSE(s.fits_at_all(3 * MiB, 3));
  EXPECT_FALSE(s.fits_at_all(101 * MiB, 2));
}

TEST(Scheduler, AJobRemovedFromAWaitingGangLeavesTheRest) {
  Scheduler s(1, 100 * MiB);
  s.push(1, 0, MiB);
  EXPECT_THAT(s.admit(), ElementsAre(1));
  s.push_gang({{2, MiB}, {3, MiB}}, 0);
  s.push(4, 0, MiB);
  EXPECT_THAT(s.waiting_ids(), ElementsAre(2, 3, 4));
  EXPECT_TRUE(s.remove_waiting(2));
  EXPECT_THAT(s.waiting_ids(), ElementsAre(3, 4));
  s.finished(1);
  EXPECT_THAT(s.admit(), ElementsAre(3));
  EXPECT_TRUE(s.remove_waiting(4));
  EXPECT_EQ(s.waiting(), 0u);
  s.finished(3);
  EXPECT_THAT(s.admit(), IsEmpty());
}

}  // namespace
}  // namespace cellblock
