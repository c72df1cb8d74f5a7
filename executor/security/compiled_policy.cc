#include "executor/security/compiled_policy.h"

#include <linux/capability.h>
#include <stdexcept>

#include "executor/security/capabilities.h"
#include "executor/security/seccomp_cache.h"

namespace cellblock {

std::shared_ptr<const CompiledPolicy> compile_policy(SecurityPolicy policy,
                                                     const std::optional<std::string>& seccomp_cache) {
  // Without no_new_privs the kernel installs a filter only for a task with CAP_SYS_ADMIN, and the
  // filter goes on after the capabilities are cut (executor/cell/policy_apply.h).
  if (!policy.no_new_privs) {
    bool root = !policy.user || policy.user->uid == 0;
    if (!root || !(capability_mask(policy.capabilities) & (uint64_t{1} << CAP_SYS_ADMIN)))
      throw std::invalid_argument(
          "no_new_privs false needs a root command that keeps CAP_SYS_ADMIN: the kernel installs a "
          "seccomp filter without no_new_privs only for a task with CAP_SYS_ADMIN");
  }
  auto compiled = std::make_shared<CompiledPolicy>();
  compiled->seccomp =
      seccomp_cache ? compile_seccomp_cached(policy.seccomp, *seccomp_cache) : compile_seccomp(policy.seccomp);
  compiled->capabilities = plan_capabilities(policy.capabilities, policy.user ? &*policy.user : nullptr);
  compiled->policy = std::move(policy);
  return compiled;
}

}  // namespace cellblock
