#include "executor/security/security_policy.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "executor/cell/capabilities_apply.h"
#include "executor/cell/seccomp_load.h"
#include "executor/security/seccomp_cache.h"

namespace cellblock {

std::shared_ptr<const CompiledPolicy> compile_policy(SecurityPolicy policy,
                                                     const std::optional<std::string>& seccomp_cache) {
  // Without no_new_privs the kernel installs a filter only for a task with CAP_SYS_ADMIN, and the
  // filter goes on after the capabilities are cut (apply_security_policy).
  if (!policy.no_new_privs) {
    bool root = !policy.user || policy.user->uid == 0;
    if (!root || !(capability_mask(policy.capabilities) & (uint64_t{1} << CAP_SYS_ADMIN)))
      throw std::invalid_argument(
          "no_new_privs false needs a root payload that keeps CAP_SYS_ADMIN: the kernel installs a "
          "seccomp filter without no_new_privs only for a task with CAP_SYS_ADMIN");
  }
  auto compiled = std::make_shared<CompiledPolicy>();
  compiled->seccomp =
      seccomp_cache ? compile_seccomp_cached(policy.seccomp, *seccomp_cache) : compile_seccomp(policy.seccomp);
  compiled->capabilities = plan_capabilities(policy.capabilities, policy.user ? &*policy.user : nullptr);
  compiled->policy = std::move(policy);
  return compiled;
}

int apply_security_policy(const CompiledPolicy& compiled, const char** failed_call) noexcept {
  return apply_security_policy(compiled, compiled.capabilities, failed_call);
}

int apply_security_policy(const CompiledPolicy& compiled, const CapabilityPlan& capabilities,
                          const char** failed_call) noexcept {
  if (int err = apply_capabilities(capabilities, failed_call)) return err;
  // no_new_privs: execve can no longer grant privileges (setuid bits and file capabilities are
  // ignored), and an unprivileged task may install a seccomp filter.
  if (compiled.policy.no_new_privs && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int err = errno;
    if (failed_call) *failed_call = "prctl(PR_SET_NO_NEW_PRIVS)";
    return err;
  }
  // Last: from here on every syscall goes through the filter.
  if (int err = load_seccomp(compiled.seccomp.prog())) {
    if (failed_call) *failed_call = "seccomp(SECCOMP_SET_MODE_FILTER)";
    return err;
  }
  return 0;
}

}  // namespace cellblock
