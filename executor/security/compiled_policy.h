// A SecurityPolicy (policy.h) compiled once (compile_policy) into a CompiledPolicy that holds
// everything the cell needs ready-made: the BPF program and the capability masks. Between clone
// and execve the cell applies it with raw system calls only (executor/cell/policy_apply.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/cell/policy_apply.h"
#include "executor/protocol/capability_plan.h"
#include "executor/security/policy.h"
#include "executor/security/seccomp.h"

namespace cellblock {

// A policy ready to apply: immutable, shared between every job that uses it.
struct CompiledPolicy {
  SecurityPolicy policy;
  SeccompProgram seccomp;
  CapabilityPlan capabilities;
};

// Compiles the seccomp filter and prepares the capability masks. Throws SeccompCompileError
// (bad rule, with its index) or std::system_error.
// With `seccomp_cache`, the filter comes from that directory when it was compiled there before
// (seccomp_cache.h).
std::shared_ptr<const CompiledPolicy> compile_policy(SecurityPolicy policy,
                                                     const std::optional<std::string>& seccomp_cache = std::nullopt);

// The whole policy applied in the calling process, for tests and tools that apply a
// CompiledPolicy in a child of their own (cells apply their PlannedSecurity: executor/cell/).
// Async-signal-safe; see apply_policy for the order.
inline int apply_security_policy(const CompiledPolicy& policy, const CapabilityPlan& capabilities,
                                 const char** failed_call = nullptr) noexcept {
  return apply_policy(capabilities, policy.policy.no_new_privs, policy.seccomp.prog(), failed_call);
}
// The same with the policy's own capability plan; a job that names its own user, or a cell in a
// user namespace, adjusts the plan before clone.
inline int apply_security_policy(const CompiledPolicy& policy, const char** failed_call = nullptr) noexcept {
  return apply_security_policy(policy, policy.capabilities, failed_call);
}

}  // namespace cellblock
