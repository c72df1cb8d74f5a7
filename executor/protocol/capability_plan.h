// What the command's capabilities and identity become, as plain masks computed on the host
// (plan_capabilities, executor/security/capabilities.h) and applied in the cell with raw
// system calls (apply_capabilities, executor/cell/capabilities_apply.h).
#pragma once

#include <cstdint>

namespace cellblock {

// Everything apply_capabilities needs, computed before fork.
struct CapabilityPlan {
  uint64_t keep = 0;        // bit n set: capability n survives execve
  int last_cap = 0;         // highest capability number the running kernel knows
  bool switch_user = false; // setgroups({gid}), setresgid(gid), setresuid(uid)
  // False in a user namespace whose setgroups is denied (the command cleared its supplementary
  // groups before entering it): the switch then leaves the group list alone.
  bool set_groups = true;
  uint32_t uid = 0;
  uint32_t gid = 0;
  // The capset data for the command: [0] caps 0-31, [1] caps 32-63; each {effective,
  // permitted, inheritable}. The child intersects it with what it actually has.
  uint32_t data[2][3] = {};
  // Non-root commands keep capabilities only through the ambient set (see capabilities.cc).
  bool raise_ambient = false;
};

}  // namespace cellblock
