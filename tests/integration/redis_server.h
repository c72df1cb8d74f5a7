// A real redis-server for one test: a free port on 127.0.0.1, its own temp directory, AOF on
// (as a production queue would run it), optionally a password. Stopped and removed at the end.
// No mocks: the workers' guarantees are Redis's semantics (consumer groups, XAUTOCLAIM, MULTI).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "jobs/dispatch/redis_client.h"
#include "tests/integration/batch_test_util.h"

namespace cellblock::test {

// A port nobody listens on now: bound to port 0, read back, closed. Another process could take
// it before redis-server does; RedisServer then tries another.
inline int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("free_tcp_port: " + std::string(std::strerror(errno)));
  ::close(fd);
  return ntohs(addr.sin_port);
}

class RedisServer {
 public:
  explicit RedisServer(const Scratch& s, std::optional<std::string> password = std::nullopt)
      : dir_(s.path("redis")), password_(std::move(password)) {
    std::filesystem::create_directories(dir_);
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_tcp_port();
      if (spawn()) return;
    }
    throw std::runtime_error("redis-server did not start; see " + dir_ + "/redis.out");
  }

  // Stops it as an outage would (SIGKILL: what the AOF has is what survives), and starts it
  // again on the same port and directory.
  void stop() {
    process_->signal(SIGKILL);
    process_->wait();
    process_.reset();
  }
  void restart() {
    if (!spawn()) throw std::runtime_error("redis-server did not start again; see " + dir_ + "/redis.out");
  }

  int port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>
  std::string url() const { return "redis://" + (password_ ? ":" + *password_ + "@" : std::string()) + "127.0.0.1:" + std::to_string(port_); }
  // A client of the test's own, logged in.
  std::unique_ptr<RedisClient> client() const {
    RedisUrl u;
    u.host = "127.0.0.1";
    u.port = port_;
    u.password = password_;
    return std::make_unique<RedisClient>(u);
  }

 private:
  bool spawn() {
    std::vector<std::string> argv{"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--dir", dir_, "--appendonly", "yes", "--save", "", "--daemonize", "no"};
    if (password_) argv.insert(argv.end(), {"--requirepass", *password_});
    process_ = std::make_unique<Spawned>(argv, dir_ + "/redis.out", dir_ + "/redis.err");
    if (wait_ready()) return true;
    process_.reset();
    return false;
  }

  bool wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (reply_string(client()->command({"PING"}).get()) == "PONG") return true;
      } catch (const RedisError&) {
      }
      if (::kill(process_->pid(), 0) != 0) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string dir_;
  std::optional<std::string> password_;
  int port_ = 0;
  std::unique_ptr<Spawned> process_;  // killed and reaped when the fixture ends
};

}  // namespace cellblock::test
