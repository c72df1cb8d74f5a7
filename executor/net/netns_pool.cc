#include "executor/net/netns_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "executor/cell/child_error.h"
#include "executor/cell/net_apply.h"
#include "executor/base/sys_error.h"

namespace cellblock {

NetnsPool::NetnsPool(size_t ready) : target_(ready) {
  if (target_) thread_ = std::thread([this] { fill(); });
}

NetnsPool::~NetnsPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_all();
  if (thread_.joinable()) thread_.join();
}

UniqueFd NetnsPool::take() {
  UniqueFd fd;
  {
    std::lock_guard lock(mutex_);
    if (ready_.empty()) return fd;
    fd = std::move(ready_.front());
    ready_.pop_front();
  }
  wanted_.notify_one();
  return fd;
}

size_t NetnsPool::ready() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

// A network namespace belongs to a task, not a process: this thread moves into a new one,
// brings its loopback up and keeps an fd; its next unshare leaves it to the fd alone.
UniqueFd NetnsPool::make_one() {
  if (::unshare(CLONE_NEWNET) != 0) throw_sys("unshare(CLONE_NEWNET)");
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys("open(\"/proc/thread-self/ns/net\")");
  ChildError e;
  if (!bring_up_loopback(e)) throw SysError(e.err, e.what);
  return fd;
}

void NetnsPool::fill() {
  bool failing = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wanted_.wait(lock, [this] { return stopping_ || ready_.size() < target_; });
      if (stopping_) return;
    }
    try {
      UniqueFd fd = make_one();
      if (failing) spdlog::info("network namespace pool: working again");
      failing = false;
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(fd));
    } catch (const std::exception& e) {
      // Launches fall back to CLONE_NEWNET meanwhile; nothing is lost but speed. The cause
      // (EMFILE, ENOMEM, the namespace limit) may pass: try again every second, say so once.
      if (!failing) spdlog::warn("network namespace pool: {}; retrying every second", e.what());
      failing = true;
      std::unique_lock lock(mutex_);
      wanted_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      if (stopping_) return;
    }
  }
}

}  // namespace cellblock
