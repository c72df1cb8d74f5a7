#include "jobs/dispatch/output_relay.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace cellblock {

// One job's output since the last write (all of it until someone follows). Its fields are
// guarded by the relay's mutex: the cell's supervisor appends, the relay's thread takes.
class OutputRelay::Job : public OutputListener {
 public:
  Job(OutputRelay& relay, std::string id) : relay_(relay), id(std::move(id)) {}

  void on_output(OutputStream stream, std::string_view chunk) noexcept override {
    try {
      std::lock_guard lock(relay_.mutex_);
      if (!pieces.empty() && pieces.back().first == stream && pieces.back().second.size() + chunk.size() <= kMaxEntryBytes)
        pieces.back().second.append(chunk);
      else pieces.emplace_back(stream, std::string(chunk));
      if (!followed) return;
    } catch (...) {
      return;  // out of memory: the stream misses a piece; the result still has it
    }
    relay_.wake_.notify_one();
  }

  bool due() const { return followed && (!pieces.empty() || finished); }

  OutputRelay& relay_;
  const std::string id;
  std::vector<std::pair<OutputStream, std::string>> pieces;
  bool followed = false;
  bool finished = false;
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
  auto job = std::make_shared<Job>(*this, id);
  std::lock_guard lock(mutex_);
  jobs_[id] = job;  // an id run again here (a reclaimed entry) starts over
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

void OutputRelay::finish(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    it->second->finished = true;
    if (!it->second->followed) {
      jobs_.erase(it);
      return;
    }
  }
  wake_.notify_one();
}

void OutputRelay::loop() {
  for (;;) {
    std::vector<Command> commands;
    {
      std::unique_lock lock(mutex_);
      auto any_due = [&] {
        for (const auto& [id, job] : jobs_)
          if (job->due()) return true;
        return false;
      };
      wake_.wait(lock, [&] { return closing_ || any_due(); });
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Job& job = *it->second;
        if (!job.due()) {
          ++it;
          continue;
        }
        const std::string key = keys_.output(job.id);
        for (auto& [stream, bytes] : job.pieces)
          commands.push_back({"XADD", key, "*", "s", stream == OutputStream::out ? "out" : "err", "d", std::move(bytes)});
        job.pieces.clear();
        if (job.finished) commands.push_back({"XADD", key, "*", "end", "1"});
        commands.push_back({"EXPIRE", key, std::to_string(kOutputTtl.count())});
        it = job.finished ? jobs_.erase(it) : std::next(it);
      }
      if (commands.empty() && closing_) return;
    }
    write(commands);
  }
}

void OutputRelay::write(const std::vector<Command>& commands) {
  try {
    if (!redis_ || !redis_->ok()) redis_ = std::make_unique<RedisClient>(url_);
    for (const Reply& r : redis_->pipeline(commands))
      if (r->type == REDIS_REPLY_ERROR) throw RedisError(url_.display() + ": " + reply_string(r.get()));
    if (warned_) spdlog::info("worker {}: live output reaches Redis again", worker_name_);
    warned_ = false;
  } catch (const RedisError& e) {
    // Dropped: a follower takes what it missed from the result (output_follow.h).
    if (!warned_)
      spdlog::warn("worker {}: live output not written ({}); followers get it from the results", worker_name_, e.what());
    warned_ = true;
  }
}

}  // namespace cellblock
