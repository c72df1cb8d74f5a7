// The cell half of a security policy (the host half, which compiles it, is
// executor/security/compiled_policy.h): the command applies it last before execve.
#pragma once

#include <linux/filter.h>

#include "executor/protocol/capability_plan.h"

namespace cellblock {

// Async-signal-safe, no allocation. In the order the kernel needs:
//   1. capabilities and identity (apply_capabilities), while CAP_SETPCAP and CAP_SETUID are
//      still there: bounding set, uid/gid, capset, ambient
//   2. prctl(PR_SET_NO_NEW_PRIVS) when the policy asks for it (all shipped policies do): execve
//      can no longer grant privileges, and an unprivileged task may load a filter
//   3. the seccomp filter (load_seccomp), last, so that the steps above need no syscall it denies
// Returns 0, or the errno of the failing call with *failed_call (if given) set to its name.
// The caller execs right after; anything it still does must be allowed by the filter.
int apply_policy(const CapabilityPlan& capabilities, bool no_new_privs, const sock_fprog* seccomp,
                 const char** failed_call = nullptr) noexcept;

}  // namespace cellblock
