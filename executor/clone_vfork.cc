#include "executor/clone_vfork.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace cellblock {

#if defined(__x86_64__)
// clone3 returns twice, the second time on the child's new stack, where the C++ caller's frame
// does not exist; so the child side must be assembly that calls fn and exits (as glibc's own
// clone3.S does). r8/r9 survive the syscall instruction (only rcx and r11 are clobbered).
extern "C" long cellblock_clone3_call(clone_args* args, size_t size, int (*fn)(void*), void* arg);
asm(R"(
    .text
    .globl cellblock_clone3_call
    .type cellblock_clone3_call, @function
cellblock_clone3_call:
    mov %rdx, %r8
    mov %rcx, %r9
    mov $435, %eax
    syscall
    test %rax, %rax
    jz 1f
    ret
1:  xor %ebp, %ebp
    mov %r9, %rdi
    call *%r8
    mov %eax, %edi
    mov $60, %eax
    syscall
    hlt
    .size cellblock_clone3_call, .-cellblock_clone3_call
    .section .note.GNU-stack,"",@progbits
    .text
)");
#endif

pid_t clone3_vfork(clone_args& args, int (*fn)(void*), void* arg) {
  // No handler of the supervisor may run in the child: it shares our memory and TLS.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(__x86_64__)
  // The child's stack lives in this frame: the parent is suspended here until the child execs.
  alignas(16) char stack[64 * 1024];
  args.flags |= CLONE_VM | CLONE_VFORK;
  args.stack = reinterpret_cast<uintptr_t>(stack);
  args.stack_size = sizeof stack;
  long rc = cellblock_clone3_call(&args, sizeof args, fn, arg);
#if defined(__SANITIZE_ADDRESS__)
  // The child ran instrumented code on this buffer and left its frames' redzones poisoned; ASan
  // would report the parent's next use of this stack region as a use after scope.
  __asan_unpoison_memory_region(stack, sizeof stack);
#endif
  pid_t pid = rc < 0 ? -1 : static_cast<pid_t>(rc);
  int err = rc < 0 ? static_cast<int>(-rc) : 0;
#else
  long rc = ::syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) ::_exit(fn(arg));
  pid_t pid = static_cast<pid_t>(rc);
  int err = rc < 0 ? errno : 0;
#endif
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return pid;
}

}  // namespace cellblock
