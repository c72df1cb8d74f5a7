// A way to ask a job to stop (queue cancel, shutdown): request() from any thread, before or
// while it runs; the supervising loop polls fd().
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

class StopToken {
 public:
  void request() noexcept {
    std::lock_guard lock(mutex_);
    requested_.store(true);
    if (fd_) signal_fd();
  }
  bool requested() const noexcept { return requested_.load(); }
  // The eventfd the supervising loop polls, readable once stop is requested. Made on first use:
  // a job waiting in a queue holds no descriptor (thousands may wait; RLIMIT_NOFILE is often 1024).
  int fd() const {
    std::lock_guard lock(mutex_);
    if (!fd_) {
      fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!fd_) throw_sys("eventfd");
      if (requested_.load()) signal_fd();
    }
    return fd_.get();
  }
  // After the job: nothing polls the descriptor any more; a later request() only sets the flag.
  void close_fd() noexcept {
    std::lock_guard lock(mutex_);
    fd_.reset();
  }

 private:
  void signal_fd() const noexcept {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
  }

  mutable std::mutex mutex_;
  mutable UniqueFd fd_;
  std::atomic<bool> requested_{false};
};

}  // namespace cellblock
