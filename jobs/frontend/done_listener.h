// The front end's ear on NAME:done: a thread SUBSCRIBEd on its own connection (a subscribed
// connection can do nothing else), which hands each finished job's id to the io thread. While
// Redis is away it tries again; each (re)subscription is reported too, since messages published
// meanwhile are gone and waiters must look again.
#pragma once

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "jobs/dispatch/redis_client.h"

namespace cellblock::frontend {

class DoneListener {
 public:
  // `on_done(id)` and `on_subscribed()` run on the io thread.
  DoneListener(RedisUrl url, std::string channel, boost::asio::io_context& io,
               std::function<void(const std::string& id)> on_done, std::function<void()> on_subscribed);
  ~DoneListener();
  DoneListener(const DoneListener&) = delete;
  DoneListener& operator=(const DoneListener&) = delete;

 private:
  void loop();

  RedisUrl url_;
  std::string channel_;
  boost::asio::io_context& io_;
  std::function<void(const std::string&)> on_done_;
  std::function<void()> on_subscribed_;
  std::mutex mutex_;  // guards redis_ against interrupt() from the destructor
  std::condition_variable wake_;
  std::shared_ptr<RedisClient> redis_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace cellblock::frontend
