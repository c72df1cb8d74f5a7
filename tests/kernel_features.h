// Facts about the running kernel that change what a test may expect, each found by trying it, not
// by reading a configuration: machines of one kind run different kernel builds, and a build's
// config can say a feature is there while the hypervisor or a boot option takes it away (the
// machine this was written on has CONFIG_IA32_EMULATION=y in /proc/config.gz, yet `int $0x80`
// faults). docs/testing.md lists every fact detected here and what depends on it.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cellblock::test {

namespace detail {

// In a child: getpid through the 32-bit entry point. Exits 0 when the kernel answered with this
// process's pid; a kernel without IA32 emulation raises SIGSEGV at the `int $0x80` instead.
[[noreturn]] inline void try_i386_getpid() {
  ::signal(SIGSEGV, SIG_DFL);
  long ret = 20;  // __NR_getpid in arch/x86/entry/syscalls/syscall_32.tbl
#if defined(__x86_64__)
  asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
#else
  ::raise(SIGSEGV);  // no i386 entry point to speak of on other architectures
#endif
  ::_exit(static_cast<int>(ret) == ::getpid() ? 0 : 1);
}

inline bool probe_ia32_emulation() {
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("kernel_features: fork for the IA32 probe");
    std::abort();
  }
  if (pid == 0) try_i386_getpid();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) return false;
  // Anything else means the probe itself is wrong: say so rather than guess.
  std::fprintf(stderr, "kernel_features: the IA32 probe ended with status %#x\n", status);
  std::abort();
}

}  // namespace detail

// Can a 64-bit process make i386 system calls through `int $0x80`? Where it cannot, the kernel
// refuses every i386 call before any seccomp filter sees it: as safe as the filter refusing it,
// so the i386 rows of the policy tests expect "unreachable" there and keep their own answers
// where the entry point exists.
inline bool ia32_emulation() {
  static const bool reachable = detail::probe_ia32_emulation();
  return reachable;
}

// What an i386 probe answers: `with_emulation` where the kernel has the entry point,
// `unreachable` where it does not.
inline std::string i386_answer(const std::string& with_emulation, const std::string& unreachable) {
  return ia32_emulation() ? with_emulation : unreachable;
}

// Does the kernel run x32 system calls (an x86_64 call with bit 30, __X32_SYSCALL_BIT, set in
// its number)? Where it does not, it answers ENOSYS, and cellblock's filter then has no x32
// section (executor/security/kernel_abis.h): every x32 call of a cell gets ENOSYS from the
// filter, whatever the policy says for that syscall natively. Asked here in the test process,
// which has no filter of its own.
inline bool x32_abi() {
#if defined(__x86_64__)
  static const bool runs = ::syscall(0x40000000L | SYS_getpid) == ::getpid();
  return runs;
#else
  return false;
#endif
}

// What an x32 call answers in a cell: `with_x32` where the kernel runs x32, ENOSYS where not.
inline std::string x32_answer(const std::string& with_x32) { return x32_abi() ? with_x32 : "ENOSYS"; }

}  // namespace cellblock::test
