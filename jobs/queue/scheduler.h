// Admission and order of waiting jobs, as pure bookkeeping (no threads, no kernel), so the
// rules can be unit-tested with fake jobs:
//   - at most `max_running` jobs run at once;
//   - a job starts only while the running jobs' memory_bytes plus its own fit the budget;
//   - waiting jobs start in priority order (higher first), then first come, first served.
// Order is strict: when the first waiting job does not fit, nothing behind it jumps ahead, so a
// large job is never starved by a stream of small ones.
// A gang is jobs that start together or not at all: go-judge's cmds joined by pipes, where one
// started while the other waits for a slot would wait on a pipe that nobody serves. It waits as
// one entry and is admitted only when all of its jobs fit at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

namespace cellblock {

class Scheduler {
 public:
  Scheduler(size_t max_running, uint64_t memory_budget) : max_running_(max_running), budget_(memory_budget) {}

  // A job that could never fit (memory_bytes above the whole budget) should not be pushed;
  // fits_at_all() tells the caller so it can reject it with a reason.
  // `jobs`: a gang's size, `memory_bytes` its jobs' sum.
  bool fits_at_all(uint64_t memory_bytes, size_t jobs = 1) const {
    return memory_bytes <= budget_ && jobs <= max_running_;
  }
  struct GangMember {
    uint64_t id;
    uint64_t memory_bytes;
  };
  void push(uint64_t id, int priority, uint64_t memory_bytes) { push_gang({{id, memory_bytes}}, priority); }
  void push_gang(const std::vector<GangMember>& members, int priority);
  // Removes a waiting job (cancelled, timed out); the rest of its gang waits on without it.
  // False if it is not waiting.
  bool remove_waiting(uint64_t id);
  // A running job ended; its memory is free again.
  void finished(uint64_t id);
  // The jobs to start now, in order; they count as running from here on.
  std::vector<uint64_t> admit();
  // Stops admitting for good (shutdown); waiting jobs stay until removed.
  void close() { closed_ = true; }

  bool is_waiting(uint64_t id) const { return keys_.count(id) != 0; }
  bool is_running(uint64_t id) const { return running_.count(id) != 0; }
  size_t waiting() const { return keys_.size(); }
  size_t running() const { return running_.size(); }
  uint64_t memory_in_use() const { return in_use_; }
  uint64_t budget() const { return budget_; }
  std::vector<uint64_t> waiting_ids() const;

 private:
  // (-priority, arrival, gang): std::set keeps it sorted in start order. A gang is named by its
  // first job's id.
  using Key = std::tuple<int, uint64_t, uint64_t>;
  size_t max_running_;
  uint64_t budget_;
  uint64_t arrivals_ = 0;
  uint64_t in_use_ = 0;
  bool closed_ = false;
  std::set<Key> waiting_;
  std::map<uint64_t, std::vector<uint64_t>> gangs_;  // gang -> its waiting jobs, in order
  std::map<uint64_t, Key> keys_;                     // every waiting job -> its gang's key
  std::map<uint64_t, uint64_t> memory_of_;  // waiting and running
  std::map<uint64_t, uint64_t> running_;    // id -> memory_bytes
};

}  // namespace cellblock
