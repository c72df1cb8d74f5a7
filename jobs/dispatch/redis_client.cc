#include "jobs/dispatch/redis_client.h"

#include <sys/socket.h>

namespace cellblock {
namespace {

std::string command_name(const Command& argv) { return argv.empty() ? std::string("?") : argv[0]; }

// A command as hiredis takes it: pointers and lengths, so that values may hold any byte.
struct ArgvView {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  explicit ArgvView(const Command& argv) {
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int size() const { return static_cast<int>(ptrs.size()); }
};

Reply send(redisContext* c, const Command& argv) {
  ArgvView v(argv);
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, v.size(), v.ptrs.data(), v.lens.data())));
}

}  // namespace

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout) : url_(std::move(url)), context_(nullptr, redisFree) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  context_.reset(redisConnectWithTimeout(url_.host.c_str(), url_.port, tv));
  if (!context_) throw RedisError(url_.display() + ": cannot allocate a connection");
  if (context_->err) throw RedisError(url_.display() + ": cannot connect: " + context_->errstr);
  // Replies to blocking reads (XREADGROUP BLOCK) come within their own timeout; this one only
  // catches a Redis that stopped answering.
  redisSetTimeout(context_.get(), timeval{30, 0});
  if (url_.password) {
    Command auth{"AUTH"};
    if (url_.user) auth.push_back(*url_.user);
    auth.push_back(*url_.password);
    command(auth);
  }
  if (url_.db != 0) command({"SELECT", std::to_string(url_.db)});
}

void RedisClient::fail(const std::string& what) {
  throw RedisError(url_.display() + ": " + what + ": " + (context_->err ? context_->errstr : "connection lost"));
}

Reply RedisClient::command(const Command& argv) {
  if (!ok()) throw RedisError(url_.display() + ": " + command_name(argv) + ": the connection is broken");
  Reply r = send(context_.get(), argv);
  if (!r) fail(command_name(argv));
  if (r->type == REDIS_REPLY_ERROR)
    throw RedisError(url_.display() + ": " + command_name(argv) + ": " + std::string(r->str, r->len));
  return r;
}

std::vector<Reply> RedisClient::pipeline(const std::vector<Command>& commands) {
  if (!ok()) throw RedisError(url_.display() + ": the connection is broken");
  for (const auto& argv : commands) {
    ArgvView v(argv);
    redisAppendCommandArgv(context_.get(), v.size(), v.ptrs.data(), v.lens.data());
  }
  std::vector<Reply> replies;
  for (const auto& argv : commands) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK) fail(command_name(argv));
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

std::vector<Reply> RedisClient::pipeline_all_ok(const std::vector<Command>& commands) {
  std::vector<Reply> replies = pipeline(commands);
  for (const Reply& r : replies)
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(url_.display() + ": " + reply_string(r.get()));
  return replies;
}

Reply RedisClient::read_pushed() {
  if (!ok()) throw RedisError(url_.display() + ": the connection is broken");
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK) fail("reading a message");
  return Reply(static_cast<redisReply*>(raw));
}

void RedisClient::interrupt() {
  if (context_) ::shutdown(context_->fd, SHUT_RDWR);
}

std::string reply_string(const redisReply* r) {
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR))
    return std::string(r->str, r->len);
  if (r && r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return "";
}

bool is_nil(const redisReply* r) { return !r || r->type == REDIS_REPLY_NIL; }

bool is_unavailable(std::string_view error) {
  // hiredis's error text is the reply after the '-': "LOADING Redis is loading ...". Ours may
  // put the URL and the command before it, so look for the code after a space or at the start.
  for (std::string_view code : {"LOADING ", "BUSY ", "MASTERDOWN ", "TRYAGAIN "})
    for (size_t at = error.find(code); at != std::string_view::npos; at = error.find(code, at + 1))
      if (at == 0 || error[at - 1] == ' ') return true;
  return false;
}

bool is_refusal(std::string_view error) {
  for (std::string_view sign : {"NOPERM", "The user executing the script can't run this command", "ACL failure in script"})
    if (error.find(sign) != std::string_view::npos) return true;
  return false;
}

}  // namespace cellblock
