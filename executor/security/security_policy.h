// A cell's security policy as plain C++: the seccomp profile, the capabilities the payload
// keeps, its identity and no_new_privs. jobs/ fills it from policies/*.json (docs/policies.md);
// the executor never sees JSON.
//
// A SecurityPolicy is compiled once (compile_policy) into a CompiledPolicy that holds
// everything the child needs ready-made: the BPF program and the capability masks. Between
// clone and execve the child only calls apply_security_policy(), which is async-signal-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/security/capabilities.h"
#include "executor/security/seccomp_filter.h"

namespace cellblock {

enum class SeccompActionKind { allow, errno_code, kill_process, kill_thread, trap, log };

struct SeccompAction {
  SeccompActionKind kind = SeccompActionKind::allow;
  int errno_value = 0;  // only for errno_code: the value the syscall fails with

  friend bool operator==(const SeccompAction&, const SeccompAction&) = default;
};

enum class SeccompOp { eq, ne, lt, le, gt, ge, masked_eq };

// One comparison of a syscall argument. All comparisons of a rule must hold (AND).
struct SeccompArg {
  unsigned index = 0;  // 0-5
  SeccompOp op = SeccompOp::eq;
  uint64_t value = 0;
  uint64_t mask = 0;  // masked_eq only: (arg & mask) == value

  friend bool operator==(const SeccompArg&, const SeccompArg&) = default;
};

// `action` applies to each syscall in `names` when every comparison in `args` holds.
struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action;
  std::vector<SeccompArg> args;
  std::string comment;  // why the rule exists; not used by the filter

  friend bool operator==(const SeccompRule&, const SeccompRule&) = default;
};

struct SeccompProfile {
  // What every syscall that no rule matches gets. errno ENOSYS is the right answer for an
  // allowlist: a syscall the filter does not know looks like one the kernel does not have, and
  // libc falls back to an older one (clone3 -> clone, faccessat2 -> faccessat, ...).
  SeccompAction default_action{SeccompActionKind::errno_code, 38 /* ENOSYS */};
  std::vector<SeccompRule> rules;
};

// Who the payload runs as inside the cell. Supplementary groups become exactly {gid}.
struct Identity {
  uint32_t uid = 0;
  uint32_t gid = 0;

  friend bool operator==(const Identity&, const Identity&) = default;
};

struct SecurityPolicy {
  std::string name;         // "default", or the path it was loaded from
  std::string description;
  SeccompProfile seccomp;
  std::vector<int> capabilities;  // kept capability numbers (CAP_CHOWN = 0, ...); all others dropped
  bool no_new_privs = true;
  std::optional<Identity> user;   // none: the payload keeps the launcher's uid (root in the cell)
  bool user_namespace = false;    // default for jobs that do not say: map cell root to a host range
};

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

// The child side, between clone and execve; async-signal-safe, no allocation. In order:
//   1. capabilities and identity (apply_capabilities): bounding set, uid/gid, capset, ambient
//   2. prctl(PR_SET_NO_NEW_PRIVS) when the policy asks for it (all shipped policies do)
//   3. the seccomp filter (load_seccomp), last, so that the steps above need no syscall it denies
// Returns 0, or the errno of the failing call with *failed_call (if given) set to its name.
// The caller execs right after; anything it still does must be allowed by the filter.
int apply_security_policy(const CompiledPolicy& policy, const char** failed_call = nullptr) noexcept;
// The same with another capability plan: a job that names its own user, or a cell in a user
// namespace, adjusts the policy's plan before clone.
int apply_security_policy(const CompiledPolicy& policy, const CapabilityPlan& capabilities,
                          const char** failed_call = nullptr) noexcept;

}  // namespace cellblock
