// A cell's security policy as plain C++: the seccomp profile, the capabilities the command
// keeps, its identity and no_new_privs. jobs/format fills it from policies/*.json
// (docs/policies.md); the executor never sees JSON. Plain data: this header includes nothing of
// ours, so that readers (jobs/format) and the compiler (compiled_policy.h, seccomp.h,
// capabilities.h) share it without pulling each other in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

}  // namespace cellblock
