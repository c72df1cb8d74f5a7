// One blocking connection to Redis (hiredis's redisContext), for one thread. Commands are argv
// vectors, so hiredis encodes them and any byte may be in a value.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/dispatch/redis_url.h"

namespace cellblock {

// A failed connection or command, as one line: "redis://h:6379/0: AUTH: WRONGPASS invalid ...".
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Command = std::vector<std::string>;

class RedisClient {
 public:
  // Connects, AUTHs when the URL has a password and SELECTs its db. Throws RedisError.
  explicit RedisClient(RedisUrl url, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Throws RedisError on a connection error or an error reply; after a connection error the
  // client is broken (ok() is false) and the caller makes a new one.
  Reply command(const Command& argv);
  // Sends all, then reads all replies: one round trip. Error replies are returned, not thrown.
  std::vector<Reply> pipeline(const std::vector<Command>& commands);
  // The same, but an error reply among them throws RedisError with its text.
  std::vector<Reply> pipeline_all_ok(const std::vector<Command>& commands);
  // The next reply the server pushes (a SUBSCRIBE message). Throws RedisError.
  Reply read_pushed();
  // From another thread: makes a blocked read_pushed() fail at once, to stop its thread.
  void interrupt();
  bool ok() const { return context_ && context_->err == 0; }
  const RedisUrl& url() const { return url_; }

 private:
  [[noreturn]] void fail(const std::string& what);
  RedisUrl url_;
  std::unique_ptr<redisContext, void (*)(redisContext*)> context_;
};

// Reply helpers: the string of a string or status reply ("" otherwise), the elements of an array.
std::string reply_string(const redisReply* r);
bool is_nil(const redisReply* r);
// Whether an error says that Redis refused this user the command, which its ACL does not allow:
// NOPERM for a command, and for one a script runs "The user executing the script can't run this
// command" (Redis 7.0) or "ACL failure in script" (7.2 on).
bool is_refusal(std::string_view error);
// Whether an error reply says that Redis cannot serve anyone just now, though the connection
// stands: LOADING (a restarted server reading its AOF), BUSY (a script past its time limit),
// MASTERDOWN, TRYAGAIN. A client should treat it as Redis being away, not as a refusal.
bool is_unavailable(std::string_view error);

}  // namespace cellblock
