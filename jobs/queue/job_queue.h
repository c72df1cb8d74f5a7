// The job queue: many jobs at once on one host, on Boost.Asio.
//
// One thread runs the io_context that owns all queue state (the Scheduler, the entries, the
// queue-timeout timers), so none of it needs a lock. A job the runner can run without a thread
// of its own (Executor::run_async) is launched from a small pool of launch threads and then
// watched by the executor's one watching thread, so the queue holds a fixed number of threads
// however many jobs run; any other job (a pod, or any job under operator hooks) gets a thread
// of its own that blocks in Executor::run(). The executor's children run only async-signal-safe code
// between clone and exec, so launching from these threads is safe (docs/architecture.md,
// "Rules").
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "executor/executor.h"
#include "jobs/queue/scheduler.h"

namespace cellblock {

// What runs a job. The queue's tests use a fake one; the product uses the Executor.
class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // `output` (may be null) sees stdout and stderr while the job runs.
  virtual Result run(const JobSpec& job, const StopToken* stop, OutputListener* output) = 0;
  // The memory the runner's jobs may use at most (its cgroup's limit), for the default memory
  // budget; none: the machine's.
  virtual std::optional<uint64_t> memory_limit() const { return std::nullopt; }
  // Whether run_async() runs `job` without holding the calling thread until it ends.
  virtual bool runs_async(const JobSpec&) const { return false; }
  // Starts the job and calls done(result) exactly once, on any thread, when its outcome is known;
  // then released() exactly once, when all the job held is given back (its cell gone): only then
  // may its slot and memory go to the next job.
  virtual void run_async(const JobSpec& job, const StopToken* stop, OutputListener* output,
                         std::function<void(Result)> done, std::function<void()> released) {
    done(run(job, stop, output));
    released();
  }
};

class ExecutorRunner : public JobRunner {
 public:
  explicit ExecutorRunner(Executor& executor) : executor_(executor) {}
  Result run(const JobSpec& job, const StopToken* stop, OutputListener* output) override {
    return executor_.run(job, stop, output);
  }
  std::optional<uint64_t> memory_limit() const override { return executor_.cgroups().memory_limit(); }
  bool runs_async(const JobSpec& job) const override { return executor_.runs_async(job); }
  void run_async(const JobSpec& job, const StopToken* stop, OutputListener* output, std::function<void(Result)> done,
                 std::function<void()> released) override {
    executor_.run_async(job, stop, output, std::move(done), std::move(released));
  }

 private:
  Executor& executor_;
};

struct QueueOptions {
  size_t parallel = std::max(1u, std::thread::hardware_concurrency());
  uint64_t memory_budget = 0;  // 0: default_memory_budget(the runner's memory_limit())
};

// 80% of the memory the supervisor may use: its cgroup's limit (CgroupDriver::memory_limit) or
// the machine's, whichever is smaller.
uint64_t default_memory_budget(std::optional<uint64_t> cgroup_limit);

struct Submission {
  JobSpec job;
  int priority = 0;
  std::optional<uint64_t> queue_timeout_ms;
  // Called exactly once with the job's result, on the queue's thread, in completion order.
  std::function<void(Result&)> on_done;
  // Called on the queue's thread when the job leaves the queue for a worker (never for a job
  // that ends without starting).
  std::function<void()> on_started;
  // Sees the job's stdout and stderr while it runs, on the worker's thread (output_listener.h).
  std::shared_ptr<OutputListener> output;
};

class JobQueue {
 public:
  JobQueue(JobRunner& runner, QueueOptions options);
  ~JobQueue();  // cancels what is left and waits for every result
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Thread-safe. Returns the job's queue id.
  uint64_t submit(Submission submission);
  // Thread-safe. Jobs that must run at the same time (go-judge's cmds joined by pipes): the
  // queue starts them together, when all fit at once, or not at all; more jobs than `parallel`
  // or than the memory budget end as setup_error with the reason. The first job's priority
  // counts. Returns their queue ids, in order.
  std::vector<uint64_t> submit_together(std::vector<Submission> submissions);
  // Thread-safe. A waiting job ends at once, a running one is killed; both as `cancelled`
  // with `reason` as the error. Unknown or finished ids are ignored.
  void cancel(uint64_t id, std::string reason = "cancelled on request");
  // Thread-safe. Stops admitting; waiting jobs end as cancelled; running jobs get `grace` to
  // finish and are then cancelled. Call again with zero grace to kill at once.
  void shutdown(std::chrono::milliseconds grace);
  // Blocks until every submitted job has its result and whatever it held is given back (a cell's
  // teardown may end after its result: JobRunner::run_async).
  void wait_idle();

  struct Counts {
    size_t waiting = 0, running = 0, done = 0, submitted = 0;
  };
  Counts counts() const;
  const QueueOptions& options() const { return options_; }
  // The io_context the queue's own thread runs, where on_done and on_started are called. A
  // front end may run its own work on it (the HTTP service does), so that its state and the
  // queue's callbacks share one thread and need no locks. Work posted here must not block.
  boost::asio::io_context& io_context() { return io_; }

 private:
  struct Entry;
  std::shared_ptr<Entry> new_entry(Submission submission);
  void on_submit(const std::vector<std::shared_ptr<Entry>>& gang);
  // Why a gang can never start, or empty when it can.
  std::string never_fits(const std::vector<std::shared_ptr<Entry>>& gang) const;
  void arm_queue_timeout(const std::shared_ptr<Entry>& entry);
  void start_admitted();
  void start(std::shared_ptr<Entry> entry);
  // Any thread, once a job on a thread of its own is done: hands the result to the io thread.
  void ran(std::shared_ptr<Entry> entry, Result result);
  // Any thread, for a job run_async runs: its result, then (released) its slot, each handed to the
  // io thread in that order.
  void answered(std::shared_ptr<Entry> entry, Result result);
  void released(std::shared_ptr<Entry> entry);
  // complete() is deliver() and count_done(): the result to its callback, then the counts that
  // wait_idle() waits on. Both take their own reference: deliver erases the entry from entries_,
  // which may hold the last other one.
  void complete(std::shared_ptr<Entry> entry, Result result);
  void deliver(std::shared_ptr<Entry> entry, Result& result);
  void count_done(std::shared_ptr<Entry> entry);
  void cancel_now(uint64_t id, const std::string& reason);

  JobRunner& runner_;
  QueueOptions options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::thread_pool launchers_;  // run_async's launches: a few threads for any number of jobs
  std::thread io_thread_;
  std::map<uint64_t, std::thread> job_threads_;  // the jobs that block a thread; io thread

  // Owned by the io thread.
  Scheduler scheduler_;
  std::map<uint64_t, std::shared_ptr<Entry>> entries_;
  bool shutting_down_ = false;

  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> waiting_{0}, running_{0}, done_{0}, submitted_{0};
  mutable std::mutex idle_mutex_;
  std::condition_variable idle_;
};

}  // namespace cellblock
