// What `cellblock batch` tells a person: a live progress line, the closing summary and the
// results table. Pure formatting, unit-tested.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "executor/result.h"

namespace cellblock {

class BatchTally {
 public:
  explicit BatchTally(size_t total) : total_(total), started_(std::chrono::steady_clock::now()) {}
  void add(const Result& r);
  // "[ 120/500] running 4, failed 3, 38.2 jobs/s, ETA 10 s"
  std::string progress_line(size_t running) const;
  // "500 jobs in 12.3 s (40.6 jobs/s): exited 480, wall_time_limit 10, setup_error 10"
  std::string summary() const;
  size_t done() const { return done_; }
  // A job failed unless it exited with code 0.
  size_t failed() const { return failed_; }

 private:
  double elapsed_s() const;
  size_t total_;
  size_t done_ = 0;
  size_t failed_ = 0;
  std::map<std::string, size_t> by_status_;
  std::chrono::steady_clock::time_point started_;
};

// A fixed-width table: id, status, exit, cpu ms, peak memory, wall ms.
std::string results_table(const std::vector<Result>& results);
// 1536 -> "1.5 KiB", 67108864 -> "64.0 MiB".
std::string human_bytes(uint64_t bytes);

}  // namespace cellblock
