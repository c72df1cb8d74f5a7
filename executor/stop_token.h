// A way to ask a running job to stop (queue cancel, shutdown): request() from any thread;
// the supervising loop polls fd().
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "executor/sys_error.h"
#include "executor/unique_fd.h"

namespace cellblock {

class StopToken {
 public:
  StopToken() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_) throw_sys("eventfd");
  }
  void request() noexcept {
    requested_.store(true);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
  }
  bool requested() const noexcept { return requested_.load(); }
  int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::atomic<bool> requested_{false};
};

}  // namespace cellblock
