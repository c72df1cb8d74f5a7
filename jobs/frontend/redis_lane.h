// One blocking Redis connection on its own thread, for handlers that must not block: the io
// thread hands it work and gets the answer back on the io thread. A hiredis context belongs to
// one thread (jobs/dispatch/redis_client.h), and a Redis that is away must stall only the lane,
// never the HTTP server: while it is away each piece of work fails at once with the reason, and
// the next one connects again.
#pragma once

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "jobs/dispatch/redis_client.h"

namespace cellblock::frontend {

class RedisLane {
 public:
  // What the work returns, or the RedisError's one line when Redis was away or refused it.
  struct Outcome {
    nlohmann::json value;
    std::optional<std::string> error;
    bool away = false;  // the error is a lost or refused connection (503), not a refused command
  };
  using Work = std::function<nlohmann::json(RedisClient& redis)>;

  RedisLane(RedisUrl url, boost::asio::io_context& io);
  ~RedisLane();  // finishes nothing left in line: their handlers' clients see the server stop
  RedisLane(const RedisLane&) = delete;
  RedisLane& operator=(const RedisLane&) = delete;

  // Runs `work` on the lane's thread, then `done` with its outcome on the io thread.
  void run(Work work, std::function<void(Outcome)> done);
  // Whether the last piece of work reached Redis.
  bool up() const { return up_.load(); }

 private:
  void loop();

  RedisUrl url_;
  boost::asio::io_context& io_;
  std::unique_ptr<RedisClient> redis_;  // the lane thread's alone; made again after an error
  std::atomic<bool> up_{true};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Work, std::function<void(Outcome)>>> work_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace cellblock::frontend
