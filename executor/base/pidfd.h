// pidfd system calls. Debian 12's glibc 2.36 declares pidfd_open() in <sys/pidfd.h> without
// extern "C" (fixed in 2.37), so C++ cannot link against it; call the system calls directly.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace cellblock {

// A pidfd for `pid` (O_CLOEXEC is implied), or -1 with errno set (ESRCH: no such process).
inline int sys_pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Signals the process the pidfd pins, never a later process that reuses its pid.
inline int sys_pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace cellblock
