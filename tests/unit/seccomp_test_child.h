// Helpers for the seccomp and policy tests: run a function in a forked child (the filter and the
// capability cuts are irreversible, so each case gets a fresh process), report syscall results
// as "name=ERRNO" lines, and make i386 / x32 syscalls from this x86_64 test binary. An i386 call
// on a kernel without IA32 emulation faults before any filter sees it; it reports "unreachable"
// (tests/kernel_features.h says which kernels those are).
//
// The child writes with snprintf+write: the test process is single-threaded when it forks, so
// that is safe here; the code under test (apply_security_policy) is the async-signal-safe part.
#pragma once

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "executor/base/unique_fd.h"
#include "tests/kernel_features.h"

namespace cellblock::test {

struct ChildOutput {
  std::map<std::string, std::string> results;  // "mount" -> "EPERM" / "ok" / "ok:<value>"
  std::string text;                            // everything the child wrote
  int status = 0;                              // waitpid status
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// Writes "name=ERRNONAME" when rc is -1 (errno), else "name=ok".
inline void report(int fd, const char* name, long rc) {
  char buf[256];
  int n = rc == -1 ? std::snprintf(buf, sizeof buf, "%s=%s\n", name, strerrorname_np(errno))
                   : std::snprintf(buf, sizeof buf, "%s=ok\n", name);
  if (write(fd, buf, static_cast<size_t>(n)) < 0) _exit(120);
}

inline void report_text(int fd, const char* name, const char* value) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "%s=%s\n", name, value);
  if (write(fd, buf, static_cast<size_t>(n)) < 0) _exit(120);
}

// What syscall_i386 returns when the kernel has no i386 entry point (int $0x80 raised SIGSEGV):
// below every -errno and every value a call returns.
constexpr long kI386Unreachable = -100000;

// For raw i386/x32 results: a negative value is -errno.
inline void report_raw(int fd, const char* name, long rc) {
  if (rc == kI386Unreachable) {
    report_text(fd, name, "unreachable");
  } else if (rc < 0 && rc > -4096) {
    errno = static_cast<int>(-rc);
    report(fd, name, -1);
  } else {
    report(fd, name, 0);
  }
}

namespace detail {
// Where a faulting int $0x80 returns to; set only while syscall_i386 makes its call.
inline sigjmp_buf* i386_call_in_progress = nullptr;

inline void on_sigsegv(int sig) {
  if (i386_call_in_progress) siglongjmp(*i386_call_in_progress, 1);
  ::signal(sig, SIG_DFL);  // a real fault: die of it
  ::raise(sig);
}

// Installed before the child loads any filter: afterwards rt_sigaction may be denied.
inline void catch_i386_faults() {
  struct sigaction sa {};
  sa.sa_handler = on_sigsegv;
  sa.sa_flags = SA_NODEFER;  // siglongjmp(…, savemask 0) leaves the mask alone: no syscall needed
  ::sigaction(SIGSEGV, &sa, nullptr);
}
}  // namespace detail

// Forks; the child runs fn(write_fd) and exits 0 (fn may _exit itself). Returns what it wrote.
template <class Fn>
ChildOutput run_in_child(Fn&& fn) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    read_end.release();
    detail::catch_i386_faults();
    fn(write_end.get());
    _exit(0);
  }
  write_end.reset();
  ChildOutput out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.text.append(buf, static_cast<size_t>(n));
  }
  while (waitpid(pid, &out.status, 0) < 0 && errno == EINTR) {
  }
  std::istringstream lines(out.text);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out.results[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// A syscall through the i386 entry point (int $0x80), as a 32-bit program would make it. Pointer
// arguments must be below 4 GiB (mmap with MAP_32BIT). Returns the raw result (-errno on error),
// or kI386Unreachable when the kernel has no IA32 emulation (only inside run_in_child).
inline long syscall_i386(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  sigjmp_buf faulted;
  if (sigsetjmp(faulted, 0) != 0) {
    detail::i386_call_in_progress = nullptr;
    return kI386Unreachable;
  }
  detail::i386_call_in_progress = &faulted;
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
               : "memory", "r8", "r9", "r10", "r11");
  detail::i386_call_in_progress = nullptr;
  return static_cast<int>(ret);  // the kernel returns a 32-bit value
}

// The answer an i386 call gets: `with_emulation` where the kernel has the entry point.
inline std::string i386_expect(const std::string& with_emulation) {
  return i386_answer(with_emulation, "unreachable");
}

constexpr long kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

// i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl); this binary's headers only
// have the x86_64 ones.
namespace i386 {
constexpr long getpid = 20;
constexpr long mount = 21;
constexpr long socketcall = 102;
constexpr long unshare = 310;
constexpr long socket = 359;
constexpr long clone3 = 435;
constexpr long ptrace = 26;
}  // namespace i386

}  // namespace cellblock::test
