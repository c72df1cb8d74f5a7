// The cell side of seccomp (the host side, which compiles, is executor/security/seccomp.h).
#pragma once

#include <linux/filter.h>

namespace cellblock {

// Installs the filter on the calling thread with SECCOMP_FILTER_FLAG_SPEC_ALLOW
// (why: seccomp_apply.cc). Async-signal-safe: one syscall (two on a kernel older than 4.17,
// which lacks SPEC_ALLOW). The caller must already have set
// no_new_privs or hold CAP_SYS_ADMIN, as the kernel requires. Returns 0 or an errno value.
int load_seccomp(const sock_fprog* prog) noexcept;

}  // namespace cellblock
