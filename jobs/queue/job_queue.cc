#include "jobs/queue/job_queue.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <sstream>

#include "executor/base/host_file.h"
#include "executor/pod.h"
#include "executor/stop_token.h"
#include "executor/base/sys_error.h"

namespace cellblock {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct JobQueue::Entry {
  uint64_t id = 0;
  Submission submission;
  StopToken stop;
  std::optional<asio::steady_timer> queue_timer;
  std::optional<asio::steady_timer> grace_timer;
  std::string cancel_reason;
  Clock::time_point submitted_at;
  bool started = false;
};

uint64_t default_memory_budget(std::optional<uint64_t> cgroup_limit) {
  uint64_t total = 0;
  std::istringstream meminfo(read_host_file("/proc/meminfo"));
  for (std::string key; meminfo >> key;) {
    uint64_t kib;
    meminfo >> kib;
    if (key == "MemTotal:") total = kib * 1024;
    meminfo.ignore(64, '\n');
  }
  if (cgroup_limit && *cgroup_limit && *cgroup_limit < total) total = *cgroup_limit;
  return total / 10 * 8;
}

JobQueue::JobQueue(JobRunner& runner, QueueOptions options)
    : runner_(runner),
      options_(std::move(options)),
      work_(asio::make_work_guard(io_)),
      // Launching is CPU work of a few milliseconds; more threads than CPUs only queue for them.
      launchers_(std::clamp<size_t>(options_.parallel, 1, std::max(2u, std::thread::hardware_concurrency()))),
      scheduler_(std::max<size_t>(1, options_.parallel),
                 options_.memory_budget ? options_.memory_budget : default_memory_budget(runner.memory_limit())) {
  if (!options_.memory_budget) options_.memory_budget = scheduler_.budget();
  io_thread_ = std::thread([this] { io_.run(); });
}

JobQueue::~JobQueue() {
  shutdown(std::chrono::milliseconds(0));
  wait_idle();
  work_.reset();
  io_thread_.join();
  launchers_.join();
}

std::shared_ptr<JobQueue::Entry> JobQueue::new_entry(Submission submission) {
  auto entry = std::make_shared<Entry>();
  entry->id = next_id_++;
  entry->submission = std::move(submission);
  entry->submitted_at = Clock::now();
  submitted_++;
  waiting_++;
  return entry;
}

uint64_t JobQueue::submit(Submission submission) {
  auto entry = new_entry(std::move(submission));
  asio::post(io_, [this, entry] { on_submit({entry}); });
  return entry->id;
}

std::vector<uint64_t> JobQueue::submit_together(std::vector<Submission> submissions) {
  std::vector<std::shared_ptr<Entry>> gang;
  std::vector<uint64_t> ids;
  for (Submission& s : submissions) {
    gang.push_back(new_entry(std::move(s)));
    ids.push_back(gang.back()->id);
  }
  if (!gang.empty()) asio::post(io_, [this, gang = std::move(gang)] { on_submit(gang); });
  return ids;
}

std::string JobQueue::never_fits(const std::vector<std::shared_ptr<Entry>>& gang) const {
  uint64_t memory = 0;
  // A pod holds its services' memory as well as its own while it runs (executor/pod.h).
  for (const auto& e : gang) memory += memory_bytes_with_services(e->submission.job);
  if (scheduler_.fits_at_all(memory, gang.size())) return "";
  const std::string budget = std::to_string(scheduler_.budget());
  if (gang.size() == 1)
    return std::string(gang.front()->submission.job.services.empty() ? "limits.memory_bytes: "
                                                                     : "limits.memory_bytes with the pod's services: ") +
           std::to_string(memory) + " is more than the queue's memory budget of " + budget +
           " bytes, so it could never start";
  const std::string n = std::to_string(gang.size()) + " jobs that must run at the same time";
  if (gang.size() > options_.parallel)
    return n + " are more than the queue runs at once (" + std::to_string(options_.parallel) +
           ", --parallel), so they could never start";
  return n + " need " + std::to_string(memory) + " bytes together (limits.memory_bytes), more than the queue's memory budget of " +
         budget + " bytes, so they could never start";
}

void JobQueue::on_submit(const std::vector<std::shared_ptr<Entry>>& gang) {
  std::string refusal = shutting_down_ ? "the queue is shutting down" : never_fits(gang);
  if (!refusal.empty()) {
    for (const auto& entry : gang) {
      Result refused;
      refused.id = entry->submission.job.id;
      refused.status = shutting_down_ ? Status::cancelled : Status::setup_error;
      refused.error = refusal;
      complete(entry, std::move(refused));
    }
    return;
  }
  std::vector<Scheduler::GangMember> members;
  for (const auto& entry : gang) {
    entries_[entry->id] = entry;
    members.push_back({entry->id, memory_bytes_with_services(entry->submission.job)});
  }
  scheduler_.push_gang(members, gang.front()->submission.priority);
  for (const auto& entry : gang) arm_queue_timeout(entry);
  start_admitted();
}

void JobQueue::arm_queue_timeout(const std::shared_ptr<Entry>& entry) {
  auto ms = entry->submission.queue_timeout_ms;
  if (!ms) return;
  entry->queue_timer.emplace(io_, std::chrono::milliseconds(*ms));
  entry->queue_timer->async_wait([this, id = entry->id, ms = *ms](const boost::system::error_code& ec) {
    if (ec || !scheduler_.is_waiting(id)) return;
    auto it = entries_.find(id);
    scheduler_.remove_waiting(id);
    Result r;
    r.id = it->second->submission.job.id;
    r.status = Status::queue_timeout;
    r.error = "waited " + std::to_string(ms) + " ms in the queue without starting (queue_timeout_ms)";
    complete(it->second, std::move(r));
    start_admitted();  // the head of the queue may have been what held the others back
  });
}

void JobQueue::start_admitted() {
  for (uint64_t id : scheduler_.admit()) start(entries_.at(id));
}

void JobQueue::start(std::shared_ptr<Entry> entry) {
  if (entry->queue_timer) entry->queue_timer->cancel();
  entry->started = true;
  waiting_--;
  running_++;
  if (entry->submission.on_started) {
    try {
      entry->submission.on_started();
    } catch (const std::exception& e) {
      spdlog::error("start callback of job {} failed: {}", entry->id, e.what());
    }
  }
  const JobSpec& job = entry->submission.job;
  spdlog::info("job {} {} started", entry->id, cellblock::quoted(job.id));
  if (runner_.runs_async(job)) {
    asio::post(launchers_, [this, entry] {
      runner_.run_async(
          entry->submission.job, &entry->stop, entry->submission.output.get(),
          [this, entry](Result result) { answered(entry, std::move(result)); }, [this, entry] { released(entry); });
    });
    return;
  }
  job_threads_.emplace(entry->id, std::thread([this, entry] {
    ran(entry, runner_.run(entry->submission.job, &entry->stop, entry->submission.output.get()));
  }));
}

void JobQueue::ran(std::shared_ptr<Entry> entry, Result result) {
  entry->stop.close_fd();
  // The entry moves on to the io thread: once that has delivered the result, no runner still
  // holds it (and its stop token's descriptor).
  asio::post(io_, [this, entry = std::move(entry), result = std::move(result)]() mutable {
    if (auto t = job_threads_.find(entry->id); t != job_threads_.end()) {
      t->second.join();  // it posted this as its last act
      job_threads_.erase(t);
    }
    scheduler_.finished(entry->id);
    complete(entry, std::move(result));
    start_admitted();
  });
}

void JobQueue::answered(std::shared_ptr<Entry> entry, Result result) {
  asio::post(io_, [this, entry = std::move(entry), result = std::move(result)]() mutable { deliver(entry, result); });
}

void JobQueue::released(std::shared_ptr<Entry> entry) {
  // The runner is done with the stop token too.
  entry->stop.close_fd();
  asio::post(io_, [this, entry = std::move(entry)] {
    scheduler_.finished(entry->id);
    count_done(entry);
    start_admitted();
  });
}

void JobQueue::complete(std::shared_ptr<Entry> entry, Result result) {
  deliver(entry, result);
  count_done(std::move(entry));
}

void JobQueue::deliver(std::shared_ptr<Entry> entry, Result& result) {
  entries_.erase(entry->id);
  if (result.status == Status::cancelled && !result.error) result.error = entry->cancel_reason;
  // Gone here, on the io thread, not only cancelled: the runner may hold the entry until after
  // the queue and its io_context are destroyed (a cell's release), and a timer must not outlive
  // its io_context.
  entry->grace_timer.reset();
  entry->queue_timer.reset();
  // One line per job at info, none at the default level (warn): a batch of thousands of jobs
  // does not drown the log.
  if (entry->started)
    spdlog::info("job {} {} ended: {} in {:.1f} ms", entry->id, cellblock::quoted(result.id), to_string(result.status),
                 result.stats.wall_time_ms);
  else
    spdlog::info("job {} {} ended without starting: {} after {:.1f} ms in the queue", entry->id,
                 cellblock::quoted(result.id), to_string(result.status),
                 std::chrono::duration<double, std::milli>(Clock::now() - entry->submitted_at).count());
  if (entry->submission.on_done) {
    try {
      entry->submission.on_done(result);
    } catch (const std::exception& e) {
      spdlog::error("result callback of job {} failed: {}", entry->id, e.what());
    }
  }
}

void JobQueue::count_done(std::shared_ptr<Entry> entry) {
  {
    std::lock_guard lock(idle_mutex_);
    (entry->started ? running_ : waiting_)--;
    done_++;
  }
  idle_.notify_all();
}

void JobQueue::cancel(uint64_t id, std::string reason) {
  asio::post(io_, [this, id, reason = std::move(reason)] { cancel_now(id, reason); });
}

void JobQueue::cancel_now(uint64_t id, const std::string& reason) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::shared_ptr<Entry> entry = it->second;
  if (scheduler_.remove_waiting(id)) {
    Result r;
    r.id = entry->submission.job.id;
    r.status = Status::cancelled;
    r.error = reason;
    complete(entry, std::move(r));
    start_admitted();
  } else if (scheduler_.is_running(id) && !entry->stop.requested()) {
    entry->cancel_reason = reason;
    entry->stop.request();
  }
}

void JobQueue::shutdown(std::chrono::milliseconds grace) {
  asio::post(io_, [this, grace] {
    shutting_down_ = true;
    scheduler_.close();
    for (uint64_t id : scheduler_.waiting_ids()) cancel_now(id, "the queue shut down before the job started");
    for (auto& [id, entry] : entries_) {
      if (!scheduler_.is_running(id)) continue;
      if (grace.count() == 0) {
        cancel_now(id, "the queue shut down while the job ran");
        continue;
      }
      entry->grace_timer.emplace(io_, grace);
      entry->grace_timer->async_wait([this, id = id](const boost::system::error_code& ec) {
        if (!ec) cancel_now(id, "the queue shut down and the job outlived the grace period");
      });
    }
  });
}

void JobQueue::wait_idle() {
  std::unique_lock lock(idle_mutex_);
  idle_.wait(lock, [this] { return done_.load() == submitted_.load(); });
}

JobQueue::Counts JobQueue::counts() const {
  std::lock_guard lock(idle_mutex_);
  return {waiting_.load(), running_.load(), done_.load(), submitted_.load()};
}

}  // namespace cellblock
