// ProcessTimeline: `cellblock run --breakdown` from the process's start (jobs/cli/process_timeline.h).
#include "jobs/cli/process_timeline.h"

#include <gtest/gtest.h>

#include <unistd.h>

namespace cellblock {
namespace {

double sum_but_total(const std::vector<StepTime>& steps) {
  double sum = 0;
  for (const StepTime& s : steps)
    if (s.step != "total") sum += s.ms;
  return sum;
}

TEST(ProcessTimeline, PutsTheProcessStepsBeforeTheLaunchAndAddsUpToTheTotal) {
  ProcessTimeline timeline;
  // Some CPU of our own between the stamps, so that no step is zero by luck.
  volatile uint64_t spin = 0;
  for (int i = 0; i < 200000; ++i) spin = spin + static_cast<uint64_t>(i);
  timeline.stamp("command_line");
  timeline.stamp("executor_start");
  const std::vector<StepTime> launch{{"plan", 0.25}, {"exec_and_run", 0.5}, {"total", 0.75}};
  ::usleep(2000);  // the "run" these launch steps stand for: at least as long as they are
  const std::vector<StepTime> steps = timeline.with_launch(launch);

  std::vector<std::string> names;
  for (const StepTime& s : steps) names.push_back(s.step);
  EXPECT_EQ(names, (std::vector<std::string>{"process_start", "command_line", "executor_start", "plan", "exec_and_run",
                                              "executor_other", "total"}));
  EXPECT_GT(steps.front().ms, 0.0) << "the CPU this process used before main";
  for (const StepTime& s : steps) EXPECT_GE(s.ms, 0.0) << s.step;
  // The launch's own steps come through unchanged; its "total" is replaced by the process's.
  EXPECT_EQ(steps[3].ms, 0.25);
  EXPECT_EQ(steps[4].ms, 0.5);
  // Every step is a stretch of one timeline, so together they are the total.
  EXPECT_NEAR(sum_but_total(steps), steps.back().ms, 1e-6 + steps.back().ms * 1e-9);
}

TEST(ProcessTimeline, AJobWithoutLaunchStepsIsOneRunStep) {
  ProcessTimeline timeline;
  timeline.stamp("executor_start");
  const std::vector<StepTime> steps = timeline.with_launch({});
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[2].step, "run");
  EXPECT_EQ(steps[3].step, "total");
  EXPECT_NEAR(sum_but_total(steps), steps.back().ms, 1e-6);
}

}  // namespace
}  // namespace cellblock
