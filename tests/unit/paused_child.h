// A forked child that only waits (pause) until it is killed: a live pid the test owns, e.g. a
// "supervisor" or a "cell" that is still there. Killed and reaped at the end if still there.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "executor/cgroup/cgroup_fs.h"

namespace cellblock::testing {

class PausedChild {
 public:
  PausedChild() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  ~PausedChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PausedChild(const PausedChild&) = delete;
  PausedChild& operator=(const PausedChild&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return *process_start_time(pid_); }
  bool alive() const { return ::kill(pid_, 0) == 0; }
  // Waits for it and returns the raw wait status.
  int reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

}  // namespace cellblock::testing
