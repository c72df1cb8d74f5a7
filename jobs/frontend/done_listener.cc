#include "jobs/frontend/done_listener.h"

#include <boost/asio/post.hpp>

namespace cellblock::frontend {

DoneListener::DoneListener(RedisUrl url, std::string channel, boost::asio::io_context& io,
                           std::function<void(const std::string& id)> on_done, std::function<void()> on_subscribed)
    : url_(std::move(url)), channel_(std::move(channel)), io_(io), on_done_(std::move(on_done)),
      on_subscribed_(std::move(on_subscribed)) {
  thread_ = std::thread([this] { loop(); });
}

DoneListener::~DoneListener() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    if (redis_) redis_->interrupt();
  }
  wake_.notify_all();
  thread_.join();
}

void DoneListener::loop() {
  for (;;) {
    std::shared_ptr<RedisClient> redis;
    try {
      redis = std::make_shared<RedisClient>(url_, std::chrono::seconds(2));
      redis->command({"SUBSCRIBE", channel_});
      {
        std::lock_guard lock(mutex_);
        if (closing_) return;
        redis_ = redis;
      }
      boost::asio::post(io_, on_subscribed_);
      for (;;) {
        Reply r = redis->read_pushed();  // ["message", channel, id]
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && reply_string(r->element[0]) == "message")
          boost::asio::post(io_, [f = on_done_, id = reply_string(r->element[2])] { f(id); });
      }
    } catch (const RedisError&) {
      // Redis away, or quiet for longer than the read timeout: subscribe again, after a pause
      // when it is away.
    }
    std::unique_lock lock(mutex_);
    redis_.reset();
    if (closing_) return;
    if (!redis || !redis->ok()) wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return closing_; });
    if (closing_) return;
  }
}

}  // namespace cellblock::frontend
