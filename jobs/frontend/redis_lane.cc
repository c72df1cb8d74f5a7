#include "jobs/frontend/redis_lane.h"

#include <boost/asio/post.hpp>

namespace cellblock::frontend {

RedisLane::RedisLane(RedisUrl url, boost::asio::io_context& io) : url_(std::move(url)), io_(io) {
  thread_ = std::thread([this] { loop(); });
}

RedisLane::~RedisLane() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RedisLane::run(Work work, std::function<void(Outcome)> done) {
  {
    std::lock_guard lock(mutex_);
    work_.emplace_back(std::move(work), std::move(done));
  }
  wake_.notify_all();
}

void RedisLane::loop() {
  for (;;) {
    std::pair<Work, std::function<void(Outcome)>> next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return closing_ || !work_.empty(); });
      if (closing_) return;
      next = std::move(work_.front());
      work_.pop_front();
    }
    Outcome outcome;
    try {
      if (!redis_ || !redis_->ok()) redis_ = std::make_unique<RedisClient>(url_, std::chrono::seconds(2));
      outcome.value = next.first(*redis_);
      up_ = true;
    } catch (const RedisError& e) {
      outcome.error = e.what();
      // An error reply (a command refused) leaves the connection usable; a lost one does not.
      // A Redis that is loading its data or stuck in a script answers with an error too, and
      // is away for the client all the same (503, try again).
      outcome.away = !(redis_ && redis_->ok()) || is_unavailable(e.what());
      up_ = !outcome.away;
    }
    boost::asio::post(io_, [done = std::move(next.second), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
  }
}

}  // namespace cellblock::frontend
