// A worker's half of live output (GET /v1/jobs/{id}/output on a front end, docs/distributed.md):
// every job it runs keeps its stdout and stderr here as they come, and a job that a client
// follows gets them appended to the stream NAME:output:<id>, from its first byte, then an end
// entry when it is done. A front end asks by publishing the job id on NAME:follow (again, until
// the stream has something); a job nobody follows costs Redis nothing.
//
// Entries: first {"run": "<worker>/<n>"}, naming this run of the job (the stream is deleted and
// begun again by each run: a job run again after its worker died starts clean, and a follower
// sees the run change); then {"s": "out"|"err", "d": bytes} in the order the supervisor read
// them, pieces of one stream run together into one entry of at most kMaxEntryBytes; last
// {"end": "1"}, only for a run that ended (not one a worker's shutdown stopped to run again
// elsewhere). The stream expires kOutputTtl after its last write: the result holds the same
// bytes for as long as results are kept. Only what the job's output cap keeps arrives
// (executor/output_listener.h).
//
// Best effort by design: when a write fails (Redis away), the runs it was for write nothing more,
// not even their end entry, with one warning, and no connection is tried for kRetryAfter; a
// follower then takes the rest from the result. One thread of its own writes, on its own
// connection, so a slow Redis never holds up a cell's supervisor. Memory: every running job's
// output is kept here until it ends or is written, up to its output cap, besides the copy the
// result keeps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "executor/output_listener.h"
#include "jobs/dispatch/queue_keys.h"
#include "jobs/dispatch/redis_client.h"
#include "jobs/dispatch/redis_url.h"

namespace cellblock {

class OutputRelay {
 public:
  static constexpr size_t kMaxEntryBytes = 64 * 1024;
  static constexpr std::chrono::seconds kOutputTtl{300};

  OutputRelay(RedisUrl url, QueueKeys keys, std::string worker_name);
  ~OutputRelay();  // writes what is due, then stops
  OutputRelay(const OutputRelay&) = delete;
  OutputRelay& operator=(const OutputRelay&) = delete;

  // The listener for job `id`'s cell (Submission::output), kept here until finish(id).
  std::shared_ptr<OutputListener> track(const std::string& id);
  // A client follows `id`: what it printed so far, and from now on all it prints, goes to its
  // stream. Nothing for a job this worker does not run; once is enough.
  void follow(const std::string& id);
  // The run `listener` (from track) is over: the rest of its output and, when it ran `whole`
  // (not stopped by the worker's shutdown, to run again elsewhere), the end entry, if it is
  // followed; then its bytes go.
  void finish(const std::shared_ptr<OutputListener>& listener, bool whole);

 private:
  class Job;
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kRetryAfter{1};  // after a failed write, no connect before
  void loop();
  bool write(const std::vector<Command>& commands);  // false when Redis did not take it all

  RedisUrl url_;
  QueueKeys keys_;
  std::string worker_name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by job id, its newest run; until written to the end
  uint64_t runs_ = 0;                                 // runs tracked so far: each run's tag
  Clock::time_point retry_at_{};                      // writer thread
  bool closing_ = false;
  std::unique_ptr<RedisClient> redis_;  // the writer thread's alone; made again after an error
  bool warned_ = false;                 // writer thread: one warning per time Redis goes away
  std::thread thread_;
};

}  // namespace cellblock
