// Capabilities: which the command keeps across execve, and as whom it runs.
//
// Host side (before clone), here: capability_from_name() resolves names with libcap;
// plan_capabilities() turns the kept set and the identity into a CapabilityPlan
// (executor/protocol/capability_plan.h): plain masks, ready for the raw capset syscall.
// Cell side (after clone): apply_capabilities(plan) in executor/cell/capabilities_apply.h -- raw
// prctl/setresuid/capset syscalls only, no libcap (it allocates), no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/protocol/capability_plan.h"

namespace cellblock {

struct Identity;

// "CAP_CHOWN" -> 0. Only the canonical upper-case spelling is accepted, and only capabilities
// this libcap knows. Empty when unknown.
std::optional<int> capability_from_name(std::string_view name);
// 0 -> "CAP_CHOWN"; "CAP_<n>" for a number libcap has no name for.
std::string capability_name(int cap);
// The highest capability number the running kernel supports (/proc/sys/kernel/cap_last_cap).
int kernel_last_capability();
// Bit mask of a list of capability numbers.
uint64_t capability_mask(const std::vector<int>& caps);

// user: null to keep the current uid (root in the cell).
CapabilityPlan plan_capabilities(const std::vector<int>& keep, const Identity* user);

}  // namespace cellblock
