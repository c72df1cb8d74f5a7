// The cell side of executor/security/seccomp.h: one raw system call, no libseccomp. Kept apart
// from seccomp.cc so that the cell's init links it without libseccomp.
#include <errno.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "executor/cell/seccomp_apply.h"

namespace cellblock {

int load_seccomp(const sock_fprog* prog) noexcept {
  if (!prog || prog->len == 0) return EINVAL;  // no filter is a bug upstream, never "allow all"
  // SECCOMP_FILTER_FLAG_SPEC_ALLOW: without it, a kernel booted with
  // spec_store_bypass_disable=seccomp (the default before Linux 5.16) turns on the Speculative
  // Store Bypass mitigation for every filtered task, slowing CPU-bound commands measurably. That
  // mitigation protects a process's secrets from untrusted code running in the same process
  // (JIT sandboxes); in a cell every instruction is the job's own, and other processes and the
  // kernel are protected by their own mitigations. Hosts that want it anyway can boot with
  // spec_store_bypass_disable=on, which SPEC_ALLOW does not override. TSYNC is not needed: the
  // child is single-threaded.
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, prog) == 0) return 0;
  if (errno != EINVAL) return errno;
  // Linux < 4.17 does not know SPEC_ALLOW and answers EINVAL.
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0) return 0;
  return errno;
}

}  // namespace cellblock
