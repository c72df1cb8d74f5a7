// The cell side of capabilities (the host side is executor/security/capabilities.h): runs
// between clone and execve, so it is raw system calls only (no libcap: it allocates).
#pragma once

#include "executor/protocol/capability_plan.h"

namespace cellblock {

// The child side, before execve. Async-signal-safe. In order:
//   1. drop every capability not kept from the bounding set (PR_CAPBSET_DROP; needs CAP_SETPCAP)
//   2. when switching user: keep-caps if capabilities must survive, setgroups, setresgid,
//      setresuid
//   3. capset: effective = permitted = kept (intersected with what the process has); inheritable
//      empty for root commands (CVE-2022-24769), = kept for non-root commands that keep caps
//   4. ambient: cleared; raised to the kept set for a non-root command that keeps caps
// Afterwards a root command has exactly the kept set in CapEff/CapPrm/CapBnd after execve, and a
// command with nothing kept has all five sets empty. Returns 0, or the errno of the failing call
// with *failed_call (if given) set to its name.
int apply_capabilities(const CapabilityPlan& plan, const char** failed_call = nullptr) noexcept;

}  // namespace cellblock
