// clone3() the way posix_spawn clones: CLONE_VM | CLONE_VFORK, the child on its own small stack,
// sharing the parent's memory until it execs. Nothing of the supervisor's address space is
// copied (a fork of a supervisor with 50 MiB resident costs milliseconds), and the parent thread
// waits only until the child's execve. Namespace flags, CLONE_PIDFD and CLONE_INTO_CGROUP work
// as with any clone3.
//
// The child runs `fn(arg)` and must only make system calls and execve (or return to _exit):
// it shares the parent's memory and TLS, so it must not allocate, lock, or touch errno-reading
// libc state the parent relies on; the parent blocks all signals around the call so that no
// handler of the supervisor runs on the child's stack.
#pragma once

#include <linux/sched.h>
#include <sys/types.h>

namespace cellblock {

// Returns the child's pid, or -1 with errno set. Where the architecture has no trampoline here
// (not x86_64), falls back to a fork-style clone3 (memory copied) running fn in the child.
pid_t clone3_vfork(clone_args& args, int (*fn)(void*), void* arg);

}  // namespace cellblock
