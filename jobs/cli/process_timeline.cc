#include "jobs/cli/process_timeline.h"

#include <time.h>

#include <chrono>

namespace cellblock {
namespace {

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// steady_clock is CLOCK_MONOTONIC, the clock of the executor's and the cell's stamps.
uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// The CPU this process has used so far, user and system, including before main.
uint64_t cpu_so_far_ns() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

ProcessTimeline::ProcessTimeline() : cpu_before_main_ns_(cpu_so_far_ns()) { stamps_.emplace_back("main", monotonic_ns()); }

void ProcessTimeline::stamp(const char* step) { stamps_.emplace_back(step, monotonic_ns()); }

std::vector<StepTime> ProcessTimeline::with_launch(const std::vector<StepTime>& launch) const {
  const uint64_t now = monotonic_ns();
  std::vector<StepTime> steps{{"process_start", ms(cpu_before_main_ns_)}};
  for (size_t i = 1; i < stamps_.size(); ++i) steps.push_back({stamps_[i].first, ms(stamps_[i].second - stamps_[i - 1].second)});
  const double run_ms = ms(now - stamps_.back().second);
  if (launch.empty()) steps.push_back({"run", run_ms});
  double named = 0;
  for (const StepTime& s : launch) {
    if (s.step == "total") continue;
    steps.push_back(s);
    named += s.ms;
  }
  // From the run call to its result: the executor's stamps start after it checked the job and end
  // before it read the result's last fields; what it did around them is this.
  if (!launch.empty()) steps.push_back({"executor_other", run_ms > named ? run_ms - named : 0.0});
  steps.push_back({"total", ms(cpu_before_main_ns_ + (now - stamps_.front().second))});
  return steps;
}

}  // namespace cellblock
