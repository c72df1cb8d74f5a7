#include "executor/security/capabilities.h"

#include <sys/capability.h>  // libcap: names only, parent side
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "executor/security/policy.h"

namespace cellblock {

std::optional<int> capability_from_name(std::string_view name) {
  // libcap also takes "cap_chown", "Cap_Chown" and plain numbers; a policy spells a capability
  // one way only, so that grep finds every use of it.
  if (name.size() < 5 || name.substr(0, 4) != "CAP_") return std::nullopt;
  for (char c : name)
    if (!(std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return std::nullopt;
  std::string copy(name);
  cap_value_t value = -1;
  if (cap_from_name(copy.c_str(), &value) != 0 || value < 0 || value > 63) return std::nullopt;
  return static_cast<int>(value);
}

std::string capability_name(int cap) {
  char* text = cap_to_name(static_cast<cap_value_t>(cap));
  if (!text) return "CAP_" + std::to_string(cap);
  std::string name(text);
  cap_free(text);
  // libcap answers a bare number for a capability it has no name for.
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return "CAP_" + std::to_string(cap);
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

int kernel_last_capability() {
  // libcap probes the running kernel once (cap_last_cap, or PR_CAPBSET_READ).
  int bits = static_cast<int>(cap_max_bits());
  return bits > 0 && bits <= 64 ? bits - 1 : CAP_LAST_CAP;
}

uint64_t capability_mask(const std::vector<int>& caps) {
  uint64_t mask = 0;
  for (int c : caps)
    if (c >= 0 && c < 64) mask |= uint64_t{1} << c;
  return mask;
}

CapabilityPlan plan_capabilities(const std::vector<int>& keep, const Identity* user) {
  CapabilityPlan plan;
  plan.keep = capability_mask(keep);
  plan.last_cap = kernel_last_capability();
  if (user) {
    plan.switch_user = true;
    plan.uid = user->uid;
    plan.gid = user->gid;
  }
  // A non-root process loses its permitted set at execve unless the capabilities are ambient
  // (Linux 4.3), and a capability can only be ambient if it is permitted and inheritable.
  plan.raise_ambient = plan.switch_user && plan.uid != 0 && plan.keep != 0;
  for (int half = 0; half < 2; ++half) {
    uint32_t bits = static_cast<uint32_t>(plan.keep >> (32 * half));
    plan.data[half][0] = bits;  // effective
    plan.data[half][1] = bits;  // permitted
    // Inheritable stays empty for root commands: root gets its capabilities at execve from the
    // bounding set anyway, and a non-empty inheritable set lets a later non-root process gain
    // capabilities by executing a file with inheritable file capabilities (CVE-2022-24769,
    // where Docker and containerd set it to the default set).
    plan.data[half][2] = plan.raise_ambient ? bits : 0;  // inheritable
  }
  return plan;
}

}  // namespace cellblock
