// What a job's cgroup counts that a Result reports as it is (executor/result.h): plain data,
// includes nothing of ours.
#pragma once

#include <cstdint>

namespace cellblock {

struct CgroupCounters {
  uint64_t memory_peak_bytes = 0;
  uint64_t oom_kills = 0;
  uint64_t pids_peak = 0;
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
};

}  // namespace cellblock
