#include "executor/capabilities.h"

#include <sys/capability.h>  // libcap: names only, parent side
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "executor/security_policy.h"

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
    // Inheritable stays empty for root payloads: root gets its capabilities at execve from the
    // bounding set anyway, and a non-empty inheritable set lets a later non-root process gain
    // capabilities by executing a file with inheritable file capabilities (CVE-2022-24769,
    // where Docker and containerd set it to the default set).
    plan.data[half][2] = plan.raise_ambient ? bits : 0;  // inheritable
  }
  return plan;
}

namespace {

// Records which call failed and returns its errno. Nothing here allocates.
int failed(const char** failed_call, const char* call) noexcept {
  int err = errno;
  if (failed_call) *failed_call = call;
  return err != 0 ? err : EPERM;
}

}  // namespace

int apply_capabilities(const CapabilityPlan& plan, const char** failed_call) noexcept {
  // Everything below is a raw system call. glibc's setresuid/setgroups wrappers are not used:
  // in a process that had threads they broadcast the change to every thread (the nptl "setxid"
  // protocol), and after a raw clone those "threads" are the parent's.

  // 1. Bounding set first: it needs CAP_SETPCAP, which the process may be about to lose. The
  //    bounding set limits what any later execve can grant, including via file capabilities.
  for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
    if (plan.keep & (uint64_t{1} << cap)) continue;
    long present = syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) {
      if (errno == EINVAL) break;  // the kernel does not know this capability (older kernel)
      return failed(failed_call, "prctl(PR_CAPBSET_READ)");
    }
    if (present == 0) continue;  // already gone; dropping again would still need CAP_SETPCAP
    if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return failed(failed_call, "prctl(PR_CAPBSET_DROP)");
  }

  // 2. Identity. setresuid from root to non-root clears the permitted set unless keep-caps is set
  //    (only needed when capabilities must survive). setgroups first: afterwards we would no
  //    longer have CAP_SETGID. A user namespace must allow setgroups for this to work.
  if (plan.switch_user) {
    if (plan.raise_ambient && syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
      return failed(failed_call, "prctl(PR_SET_KEEPCAPS)");
    gid_t groups[1] = {static_cast<gid_t>(plan.gid)};
    if (plan.set_groups && syscall(SYS_setgroups, 1, groups) != 0) return failed(failed_call, "setgroups");
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) return failed(failed_call, "setresgid");
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) return failed(failed_call, "setresuid");
  }

  // 3. capset. Intersect with what we actually hold: a supervisor whose own bounding set lacks a
  //    capability (some container hosts drop CAP_SYS_RESOURCE) cannot hand it on, and capset
  //    would fail with EPERM instead of giving the payload less.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct current[2] = {};
  if (syscall(SYS_capget, &header, current) != 0) return failed(failed_call, "capget");
  __user_cap_data_struct next[2] = {};
  for (int half = 0; half < 2; ++half) {
    uint32_t have = current[half].permitted;
    next[half].effective = plan.data[half][0] & have;
    next[half].permitted = plan.data[half][1] & have;
    next[half].inheritable = plan.data[half][2] & have;
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &header, next) != 0) return failed(failed_call, "capset");

  // 4. Ambient set: cleared (it could only have been inherited), then raised for a non-root
  //    payload that keeps capabilities. Kernels before 4.3 have no ambient set (EINVAL); there is
  //    nothing to clear then.
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return failed(failed_call, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  if (plan.raise_ambient) {
    for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
      uint32_t bit = uint32_t{1} << (cap % 32);
      if (!(next[cap / 32].permitted & bit)) continue;
      if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
        return failed(failed_call, "prctl(PR_CAP_AMBIENT_RAISE)");
    }
    if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return failed(failed_call, "prctl(PR_SET_KEEPCAPS)");
  }
  return 0;
}

}  // namespace cellblock
