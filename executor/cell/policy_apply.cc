#include "executor/cell/policy_apply.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "executor/cell/capabilities_apply.h"
#include "executor/cell/seccomp_apply.h"

namespace cellblock {

int apply_policy(const CapabilityPlan& capabilities, bool no_new_privs, const sock_fprog* seccomp,
                 const char** failed_call) noexcept {
  if (int err = apply_capabilities(capabilities, failed_call)) return err;
  if (no_new_privs && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int err = errno;
    if (failed_call) *failed_call = "prctl(PR_SET_NO_NEW_PRIVS)";
    return err;
  }
  // Last: from here on every syscall goes through the filter.
  if (int err = load_seccomp(seccomp)) {
    if (failed_call) *failed_call = "seccomp(SECCOMP_SET_MODE_FILTER)";
    return err;
  }
  return 0;
}

}  // namespace cellblock
