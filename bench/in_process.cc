#include "bench/in_process.h"

#include <future>

#include "executor/executor.h"
#include "executor/protocol/step_clock.h"
#include "jobs/format/job_json.h"
#include "jobs/queue/job_queue.h"
#include "jobs/format/policy_json.h"

namespace cellblock::bench {

struct InProcessQueue::State {
  Executor executor;
  PolicyRegistry policies;
  ExecutorRunner runner;
  JobQueue queue;
  JobSpec job;

  static ExecutorConfig config(size_t parallel) {
    ExecutorConfig c;
    c.netns_pool = parallel + 1;  // as cellblock batch sets it
    return c;
  }
  State(const std::string& rootfs, const std::string& policy, size_t parallel)
      : executor(config(parallel)), runner(executor), queue(runner, QueueOptions{parallel, 0}) {
    job.rootfs = rootfs;
    job.command = {"/bin/true"};
    job.policy = policy;
    prepare_job(job, policies);
  }
};

InProcessQueue::InProcessQueue(const std::string& rootfs, const std::string& policy, size_t parallel)
    : state_(std::make_unique<State>(rootfs, policy, parallel)) {}

InProcessQueue::~InProcessQueue() = default;

InProcessQueue::Outcome InProcessQueue::run_one() {
  std::promise<Result> done;
  std::future<Result> result = done.get_future();
  Submission s;
  s.job = state_->job;
  s.on_done = [&done](Result& r) { done.set_value(std::move(r)); };
  const uint64_t t0 = monotonic_ns();
  state_->queue.submit(std::move(s));
  Result r = result.get();
  Outcome out;
  out.ns = static_cast<int64_t>(monotonic_ns() - t0);
  if (r.status != Status::exited || r.exit_code != 0)
    out.error = std::string(to_string(r.status)) + (r.error ? ": " + *r.error : std::string());
  return out;
}

}  // namespace cellblock::bench
