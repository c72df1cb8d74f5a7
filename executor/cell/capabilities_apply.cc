// The cell side of executor/security/capabilities.h: apply_capabilities() runs between clone and execve, so it
// is raw system calls only (no libcap: it allocates). Kept apart from capabilities.cc so that the
// cell's init links it without libcap.
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "executor/cell/capabilities_apply.h"

namespace cellblock {

namespace {

// Records which call failed and returns its errno. Nothing here allocates.
int failed(const char** failed_call, const char* call) noexcept {
  int err = errno;
  if (failed_call) *failed_call = call;
  return err != 0 ? err : EPERM;
}

}  // namespace

int apply_capabilities(const CapabilityPlan& plan, const char** failed_call) noexcept {
  // Everything below is a raw system call. glibc's setresuid/setgroups wrappers are not used:
  // in a process that had threads they broadcast the change to every thread (the nptl "setxid"
  // protocol), and after a raw clone those "threads" are the parent's.

  // 1. Bounding set first: it needs CAP_SETPCAP, which the process may be about to lose. The
  //    bounding set limits what any later execve can grant, including via file capabilities.
  for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
    if (plan.keep & (uint64_t{1} << cap)) continue;
    long present = syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) {
      if (errno == EINVAL) break;  // the kernel does not know this capability (older kernel)
      return failed(failed_call, "prctl(PR_CAPBSET_READ)");
    }
    if (present == 0) continue;  // already gone; dropping again would still need CAP_SETPCAP
    if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return failed(failed_call, "prctl(PR_CAPBSET_DROP)");
  }

  // 2. Identity. setresuid from root to non-root clears the permitted set unless keep-caps is set
  //    (only needed when capabilities must survive). setgroups first: afterwards we would no
  //    longer have CAP_SETGID. A user namespace must allow setgroups for this to work.
  if (plan.switch_user) {
    if (plan.raise_ambient && syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
      return failed(failed_call, "prctl(PR_SET_KEEPCAPS)");
    gid_t groups[1] = {static_cast<gid_t>(plan.gid)};
    if (plan.set_groups && syscall(SYS_setgroups, 1, groups) != 0) return failed(failed_call, "setgroups");
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) return failed(failed_call, "setresgid");
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) return failed(failed_call, "setresuid");
  }

  // 3. capset. Intersect with what we actually hold: a supervisor whose own bounding set lacks a
  //    capability (some container hosts drop CAP_SYS_RESOURCE) cannot hand it on, and capset
  //    would fail with EPERM instead of giving the command less.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct current[2] = {};
  if (syscall(SYS_capget, &header, current) != 0) return failed(failed_call, "capget");
  __user_cap_data_struct next[2] = {};
  for (int half = 0; half < 2; ++half) {
    uint32_t have = current[half].permitted;
    next[half].effective = plan.data[half][0] & have;
    next[half].permitted = plan.data[half][1] & have;
    next[half].inheritable = plan.data[half][2] & have;
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &header, next) != 0) return failed(failed_call, "capset");

  // 4. Ambient set: cleared (it could only have been inherited), then raised for a non-root
  //    command that keeps capabilities. Kernels before 4.3 have no ambient set (EINVAL); there is
  //    nothing to clear then.
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return failed(failed_call, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  if (plan.raise_ambient) {
    for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
      uint32_t bit = uint32_t{1} << (cap % 32);
      if (!(next[cap / 32].permitted & bit)) continue;
      if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
        return failed(failed_call, "prctl(PR_CAP_AMBIENT_RAISE)");
    }
    if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return failed(failed_call, "prctl(PR_SET_KEEPCAPS)");
  }
  return 0;
}

}  // namespace cellblock
