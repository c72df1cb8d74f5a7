// `cellblock run --breakdown` from the process's start, not only from the executor's first step:
// a one-shot run pays for its own process (exec, dynamic loading, the command line, the policy,
// the executor's start-up) before the launch itself, and that is most of what it costs.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "executor/result.h"

namespace cellblock {

class ProcessTimeline {
 public:
  // Taken on main's first line. What ran before main (the kernel's exec, the dynamic loader
  // mapping and relocating every library, static constructors) left no clock stamp, but it ran on
  // this process's CPU: that CPU time, taken now, is where the process started on a machine
  // whose CPU it had to itself, and at least how long it took on a busy one.
  ProcessTimeline();

  // The step that ended now: the time since the previous stamp.
  void stamp(const char* step);

  // The whole process as one breakdown: "process_start" (CPU before main), this timeline's
  // steps, then `launch` (the executor's breakdown, whose own "total" is dropped) as one stretch
  // between the last stamp and now, with what the executor did beside its named steps as
  // "executor_other", and "total" from the process's start to now.
  std::vector<StepTime> with_launch(const std::vector<StepTime>& launch) const;

 private:
  uint64_t cpu_before_main_ns_;
  std::vector<std::pair<const char*, uint64_t>> stamps_;  // the first is main's entry
};

}  // namespace cellblock
