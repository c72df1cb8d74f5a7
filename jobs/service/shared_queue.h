// The one job queue of `cellblock serve`, as every route uses it (docs/api.md, "Running jobs").
// The native /v1 routes journal their jobs first (job_store.h); other modules (go-judge's /run)
// call run() directly and get their Result back on the io thread. Every job that passes through
// here is counted in the metrics: cellblock_jobs_total{status}, the duration, CPU, memory and
// queue-wait histograms, and the queued/running gauges.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "executor/output_listener.h"
#include "jobs/format/job_json.h"
#include "jobs/metrics/metrics.h"
#include "jobs/queue/job_queue.h"

namespace cellblock::service {

class SharedQueue {
 public:
  // `max_queued`: jobs waiting to start at most (--max-queued); more get 429 from the routes.
  SharedQueue(JobQueue& queue, metrics::Registry& metrics, size_t max_queued);
  SharedQueue(const SharedQueue&) = delete;
  SharedQueue& operator=(const SharedQueue&) = delete;

  struct Hooks {
    std::function<void()> on_started;        // on the io thread, when the job leaves the queue
    std::shared_ptr<OutputListener> output;  // stdout and stderr while the job runs (worker thread)
  };
  // Runs `request` on the shared queue and calls `done` exactly once with its Result, on the io
  // thread. Thread-safe. Returns the queue's id for cancel(). The caller checks has_room() first
  // (a route answers 429 when it is false); run() itself always queues.
  uint64_t run(JobRequest request, std::function<void(Result&)> done, Hooks hooks = {});
  // As run(), for jobs that must run at the same time (go-judge's cmds joined by pipes): they
  // start together or not at all (JobQueue::submit_together). `done[i]` is the i-th job's.
  std::vector<uint64_t> run_together(std::vector<JobRequest> requests, std::vector<std::function<void(Result&)>> done);
  // Thread-safe. A waiting job ends at once, a running one is killed; both as `cancelled`.
  void cancel(uint64_t queue_id, std::string reason = "cancelled on request");
  // Whether `n` more jobs fit under --max-queued.
  bool has_room(size_t n = 1) const;
  // How long a refused client should wait before it tries again (Retry-After), from how long
  // jobs take and how many wait.
  std::chrono::seconds retry_after() const;
  JobQueue::Counts counts() const { return queue_.counts(); }
  size_t max_queued() const { return max_queued_; }
  size_t parallel() const { return queue_.options().parallel; }
  boost::asio::io_context& io() { return queue_.io_context(); }
  JobQueue& queue() { return queue_; }

 private:
  // The submission run() and run_together() queue: counted in the metrics on start and end.
  Submission submission_for(JobRequest request, std::function<void(Result&)> done, Hooks hooks);
  void count_result(const Result& result, std::chrono::steady_clock::time_point queued,
                    std::optional<std::chrono::steady_clock::time_point> started);

  JobQueue& queue_;
  size_t max_queued_;
  metrics::CounterFamily& jobs_total_;
  metrics::Histogram& duration_;
  metrics::Histogram& cpu_;
  metrics::Histogram& memory_;
  metrics::Histogram& queue_wait_;
  std::atomic<double> mean_job_seconds_{0.01};
};

}  // namespace cellblock::service
