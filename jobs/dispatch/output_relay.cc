#include "jobs/dispatch/output_relay.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace cellblock {

// One run of a job: its output since the last write (all of it until someone follows). Its
// fields are guarded by the relay's mutex: the cell's supervisor appends, the relay's thread
// takes.
class OutputRelay::Job : public OutputListener {
 public:
  Job(OutputRelay& relay, std::string id, std::string run) : relay_(relay), id(std::move(id)), run(std::move(run)) {}

  void on_output(OutputStream stream, std::string_view chunk) noexcept override {
    try {
      std::lock_guard lock(relay_.mutex_);
      if (broken) return;
      if (!pieces.empty() && pieces.back().first == stream && pieces.back().second.size() + chunk.size() <= kMaxEntryBytes)
        pieces.back().second.append(chunk);
      else pieces.emplace_back(stream, std::string(chunk));
      if (!followed) return;
    } catch (...) {
      // Out of memory: a piece is missing, so nothing more goes out for this run; followers
      // take the rest from the result.
      try {
        std::lock_guard lock(relay_.mutex_);
        broken = true;
        pieces.clear();
      } catch (...) {
      }
      return;
    }
    relay_.wake_.notify_one();
  }

  bool due() const { return followed && !broken && !closed && (!pieces.empty() || finished); }

  OutputRelay& relay_;
  const std::string id;
  const std::string run;  // this run's tag, the stream's first entry
  std::vector<std::pair<OutputStream, std::string>> pieces;
  bool followed = false;
  bool finished = false;
  bool ended = false;    // finished as a whole run (not interrupted by a stop): the end entry is due
  bool started = false;  // this run's stream is begun (old runs' entries deleted, its run entry written)
  bool broken = false;   // a write failed: nothing more is written for this run, and no end entry
  bool closed = false;   // finished, and its last write is made
};

OutputRelay::OutputRelay(RedisUrl url, QueueKeys keys, std::string worker_name)
    : url_(std::move(url)), keys_(std::move(keys)), worker_name_(std::move(worker_name)), thread_([this] { loop(); }) {}

OutputRelay::~OutputRelay() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<OutputListener> OutputRelay::track(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto job = std::make_shared<Job>(*this, id, worker_name_ + "/" + std::to_string(++runs_));
  jobs_[id] = job;  // the same id run again here: follows go to the newest run
  return job;
}

void OutputRelay::follow(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->followed) return;
    it->second->followed = true;
  }
  wake_.notify_one();
}

void OutputRelay::finish(const std::shared_ptr<OutputListener>& listener, bool whole) {
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.begin();
    while (it != jobs_.end() && it->second != listener) ++it;
    if (it == jobs_.end()) return;  // another run of the id took its place
    Job& job = *it->second;
    job.finished = true;
    job.ended = whole;
    if (!job.due()) {
      jobs_.erase(it);
      return;
    }
  }
  wake_.notify_one();
}

void OutputRelay::loop() {
  for (;;) {
    std::vector<Command> commands;
    std::vector<std::shared_ptr<Job>> written;  // the runs these commands are for
    {
      std::unique_lock lock(mutex_);
      auto any_due = [&] {
        for (const auto& [id, job] : jobs_)
          if (job->due()) return true;
        return false;
      };
      wake_.wait(lock, [&] { return closing_ || any_due(); });
      const bool skip = Clock::now() < retry_at_;  // Redis failed a moment ago: drop, do not connect
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Job& job = *it->second;
        if (job.due()) {
          if (skip) {
            job.broken = true;
            job.pieces.clear();
          } else {
            const std::string key = keys_.output(job.id);
            if (!job.started) {
              // A run's stream starts clean: what an earlier run of the id wrote (a dead
              // worker's, with no end entry) goes, and the run entry tells followers which run
              // they read.
              commands.push_back({"DEL", key});
              commands.push_back({"XADD", key, "*", "run", job.run});
              job.started = true;
            }
            for (auto& [stream, bytes] : job.pieces)
              commands.push_back({"XADD", key, "*", "s", stream == OutputStream::out ? "out" : "err", "d", std::move(bytes)});
            job.pieces.clear();
            if (job.finished && job.ended) commands.push_back({"XADD", key, "*", "end", "1"});
            job.closed = job.finished;
            commands.push_back({"EXPIRE", key, std::to_string(kOutputTtl.count())});
            written.push_back(it->second);
          }
        }
        it = job.finished && !job.due() ? jobs_.erase(it) : std::next(it);
      }
      if (commands.empty() && closing_) return;
    }
    if (!commands.empty() && !write(commands)) {
      std::lock_guard lock(mutex_);
      for (const auto& job : written) {
        job->broken = true;
        job->pieces.clear();
      }
      retry_at_ = Clock::now() + kRetryAfter;
    }
  }
}

bool OutputRelay::write(const std::vector<Command>& commands) {
  try {
    if (!redis_ || !redis_->ok()) redis_ = std::make_unique<RedisClient>(url_);
    redis_->pipeline_all_ok(commands);
    if (warned_) spdlog::info("worker {}: live output reaches Redis again", worker_name_);
    warned_ = false;
    return true;
  } catch (const RedisError& e) {
    // Those runs write nothing more, not even their end: a follower takes what it missed from
    // the result (output_follow.h).
    if (!warned_)
      spdlog::warn("worker {}: live output not written ({}); followers get it from the results", worker_name_, e.what());
    warned_ = true;
    return false;
  }
}

}  // namespace cellblock
