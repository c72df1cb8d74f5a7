// A redis-server of the benchmark's own: a random port on 127.0.0.1, a directory of its own, AOF
// on (appendfsync everysec, as a production queue would run it), stopped by its pid at the end.
// Also: numbers from INFO, for what Redis spends on the jobs.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "bench/child_process.h"
#include "jobs/dispatch/redis_client.h"

namespace cellblock::bench {

class RedisProcess {
 public:
  RedisProcess(std::string program, std::string dir) : program_(std::move(program)), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    std::mt19937 random(std::random_device{}());
    // A port someone else holds makes redis-server exit at once ("Address already in use"): try another.
    for (int attempt = 0; attempt < 10 && !process_; ++attempt) {
      url_.host = "127.0.0.1";
      url_.port = std::uniform_int_distribution<int>(20000, 59999)(random);
      process_ = std::make_unique<ChildProcess>(
          std::vector<std::string>{program_, "--port", std::to_string(url_.port), "--bind", "127.0.0.1", "--dir", dir_,
                                   "--appendonly", "yes", "--save", "", "--daemonize", "no"},
          dir_ + "/redis.log");
      if (!wait_ready()) process_.reset();
    }
    if (!process_) throw std::runtime_error(program_ + " did not start; see " + dir_ + "/redis.log");
  }
  ~RedisProcess() { stop(); }

  void stop() {
    if (process_) process_->stop();
  }
  const RedisUrl& url() const { return url_; }
  std::string url_text() const { return "redis://127.0.0.1:" + std::to_string(url_.port); }
  std::unique_ptr<RedisClient> client() const { return std::make_unique<RedisClient>(url_); }

 private:
  bool wait_ready() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (process_->running() && std::chrono::steady_clock::now() < give_up) {
      try {
        if (reply_string(client()->command({"PING"}).get()) == "PONG") return true;
      } catch (const RedisError&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string program_, dir_;
  RedisUrl url_;
  std::unique_ptr<ChildProcess> process_;
};

// One field of INFO <section> as a number ("used_memory", "used_cpu_user", ...); 0 if absent.
inline double redis_info(RedisClient& redis, const std::string& section, const std::string& field) {
  const std::string text = reply_string(redis.command({"INFO", section}).get());
  const std::string key = "\r\n" + field + ":";
  const size_t at = ("\r\n" + text).find(key);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + key.size() - 2));
}

}  // namespace cellblock::bench
