#include "jobs/service/shared_queue.h"

#include <algorithm>
#include <cmath>

namespace cellblock::service {

using Clock = std::chrono::steady_clock;

SharedQueue::SharedQueue(JobQueue& queue, metrics::Registry& m, size_t max_queued)
    : queue_(queue),
      max_queued_(max_queued),
      jobs_total_(m.counter("cellblock_jobs_total", "Jobs that ended, by result status", {"status"})),
      duration_(m.histogram("cellblock_job_duration_seconds",
                            "Wall-clock time of jobs that ran, from clone to the command's end (wall_time_ms)",
                            metrics::exponential_buckets(0.001, 4, 10)).get()),
      cpu_(m.histogram("cellblock_job_cpu_seconds", "CPU time of jobs that ran (the cgroup's, less the cell's set-up)",
                       metrics::exponential_buckets(0.001, 4, 10)).get()),
      memory_(m.histogram("cellblock_job_memory_peak_bytes", "Peak memory of jobs that ran (the cgroup's counter)",
                          metrics::exponential_buckets(1 << 20, 4, 10)).get()),
      queue_wait_(m.histogram("cellblock_queue_wait_seconds", "Time jobs waited in the queue before they started or ended",
                              metrics::exponential_buckets(0.0001, 4, 12)).get()) {
  m.gauge_fn("cellblock_jobs_queued", "Jobs waiting to start", [this] { return double(queue_.counts().waiting); });
  m.gauge_fn("cellblock_jobs_running", "Jobs holding a slot now (running, or answered and their cell going)",
             [this] { return double(queue_.counts().running); });
}

Submission SharedQueue::submission_for(JobRequest request, std::function<void(Result&)> done, Hooks hooks) {
  // Shared between the two callbacks, both on the io thread.
  struct Times {
    Clock::time_point queued = Clock::now();
    std::optional<Clock::time_point> started;
  };
  auto times = std::make_shared<Times>();
  Submission s;
  s.job = std::move(request.job);
  s.priority = request.priority;
  s.queue_timeout_ms = request.queue_timeout_ms;
  s.output = std::move(hooks.output);
  s.on_started = [this, times, on_started = std::move(hooks.on_started)] {
    times->started = Clock::now();
    queue_wait_.observe(std::chrono::duration<double>(*times->started - times->queued).count());
    if (on_started) on_started();
  };
  s.on_done = [this, times, done = std::move(done)](Result& r) {
    count_result(r, times->queued, times->started);
    done(r);
  };
  return s;
}

uint64_t SharedQueue::run(JobRequest request, std::function<void(Result&)> done, Hooks hooks) {
  return queue_.submit(submission_for(std::move(request), std::move(done), std::move(hooks)));
}

std::vector<uint64_t> SharedQueue::run_together(std::vector<JobRequest> requests,
                                                std::vector<std::function<void(Result&)>> done) {
  std::vector<Submission> gang;
  for (size_t i = 0; i < requests.size(); ++i) gang.push_back(submission_for(std::move(requests[i]), std::move(done[i]), {}));
  return queue_.submit_together(std::move(gang));
}

void SharedQueue::count_result(const Result& r, Clock::time_point queued, std::optional<Clock::time_point> started) {
  jobs_total_.with({std::string(to_string(r.status))}).inc();
  if (!started) {  // ended in the queue: its whole life was waiting
    queue_wait_.observe(std::chrono::duration<double>(Clock::now() - queued).count());
    return;
  }
  const double seconds = r.stats.wall_time_ms / 1000;
  duration_.observe(seconds);
  cpu_.observe(r.stats.cpu_time_ms / 1000);
  memory_.observe(static_cast<double>(r.stats.memory_peak_bytes));
  // A slow moving average: Retry-After only needs the order of magnitude.
  mean_job_seconds_.store(0.95 * mean_job_seconds_.load() + 0.05 * seconds);
}

void SharedQueue::cancel(uint64_t queue_id, std::string reason) { queue_.cancel(queue_id, std::move(reason)); }

bool SharedQueue::has_room(size_t n) const { return queue_.counts().waiting + n <= max_queued_; }

std::chrono::seconds SharedQueue::retry_after() const {
  const double waiting = static_cast<double>(queue_.counts().waiting);
  const double drain = waiting * mean_job_seconds_.load() / static_cast<double>(std::max<size_t>(1, parallel()));
  return std::chrono::seconds(std::clamp<long>(std::lround(std::ceil(drain / 10)), 1, 60));
}

}  // namespace cellblock::service
