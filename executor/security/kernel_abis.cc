#include "executor/security/kernel_abis.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace cellblock {
namespace {

#if defined(__x86_64__)

constexpr long kX32SyscallBit = 0x40000000;  // __X32_SYSCALL_BIT in asm/unistd.h
constexpr long kI386Getpid = 20;             // arch/x86/entry/syscalls/syscall_32.tbl

// The child's answer about x32, written into the parent's memory (a vfork child shares it).
enum class X32 : int { unknown, accepted, refused };

KernelAbis probe() {
  KernelAbis abis;
  volatile X32 x32 = X32::unknown;
  // vfork, not fork: nothing of the caller's address space is copied, so the probe costs tens
  // of microseconds even in a large service. The child makes system calls only, then _exit.
  const pid_t pid = vfork();
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &dfl, nullptr);  // a sanitizer's handler must not report the probe's fault
    const long self = syscall(SYS_getpid);
    const long got = syscall(kX32SyscallBit | SYS_getpid);
    // ENOSYS is the kernel's own answer for an ABI it does not run; anything else (our pid, or
    // an errno from a filter around cellblock) may mean it runs x32.
    x32 = got == -1 && errno == ENOSYS ? X32::refused : X32::accepted;
    long ret = kI386Getpid;
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    _exit(ret == self ? 0 : 1);
  }
  if (pid < 0) return abis;  // cannot tell: keep every section
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  abis.x32 = x32 != X32::refused;
  // Only the fault of `int $0x80` itself says the kernel has no IA32 emulation; the child
  // killed any other way (SIGSYS from a filter on cellblock) leaves the question open.
  abis.i386 = !(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && x32 != X32::unknown);
  return abis;
}

#else

KernelAbis probe() { return KernelAbis{false, false}; }

#endif

}  // namespace

namespace {
std::atomic<bool> probed{false};
}  // namespace

const KernelAbis& kernel_abis() {
  static const KernelAbis abis = [] {
    probed = true;
    return probe();
  }();
  return abis;
}

bool kernel_abis_probed() { return probed; }

}  // namespace cellblock
