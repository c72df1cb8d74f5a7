// Capabilities: which the payload keeps across execve, and as whom it runs.
//
// Parent side (before clone): capability_from_name() resolves names with libcap;
// plan_capabilities() turns the kept set and the identity into a CapabilityPlan: plain masks,
// ready for the raw capset syscall.
// Child side (after clone): apply_capabilities(plan) -- raw prctl/setresuid/capset syscalls only,
// no libcap (it allocates), no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellblock {

struct Identity;

// Everything apply_capabilities needs, computed before fork.
struct CapabilityPlan {
  uint64_t keep = 0;        // bit n set: capability n survives execve
  int last_cap = 0;         // highest capability number the running kernel knows
  bool switch_user = false; // setgroups({gid}), setresgid(gid), setresuid(uid)
  // False in a user namespace whose setgroups is denied (the payload cleared its supplementary
  // groups before entering it): the switch then leaves the group list alone.
  bool set_groups = true;
  uint32_t uid = 0;
  uint32_t gid = 0;
  // The capset data for the payload: [0] caps 0-31, [1] caps 32-63; each {effective,
  // permitted, inheritable}. The child intersects it with what it actually has.
  uint32_t data[2][3] = {};
  // Non-root payloads keep capabilities only through the ambient set (see capabilities.cc).
  bool raise_ambient = false;
};

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

// The child side, before execve. Async-signal-safe. In order:
//   1. drop every capability not kept from the bounding set (PR_CAPBSET_DROP; needs CAP_SETPCAP)
//   2. when switching user: keep-caps if capabilities must survive, setgroups, setresgid,
//      setresuid
//   3. capset: effective = permitted = kept (intersected with what the process has); inheritable
//      empty for root payloads (CVE-2022-24769), = kept for non-root payloads that keep caps
//   4. ambient: cleared; raised to the kept set for a non-root payload that keeps caps
// Afterwards a root payload has exactly the kept set in CapEff/CapPrm/CapBnd after execve, and a
// payload with nothing kept has all five sets empty. Returns 0, or the errno of the failing call
// with *failed_call (if given) set to its name.
int apply_capabilities(const CapabilityPlan& plan, const char** failed_call = nullptr) noexcept;

}  // namespace cellblock
