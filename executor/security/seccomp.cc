#include "executor/security/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "executor/security/kernel_abis.h"
#include "executor/security/policy.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

SeccompProgram::SeccompProgram(std::vector<sock_filter> code) : code_(std::move(code)) {
  // The kernel takes at most BPF_MAXINSNS (4096) instructions per filter.
  if (code_.size() > BPF_MAXINSNS)
    throw std::length_error("seccomp filter has " + std::to_string(code_.size()) +
                            " instructions; the kernel accepts at most " + std::to_string(BPF_MAXINSNS));
  fprog_.len = static_cast<unsigned short>(code_.size());
  fprog_.filter = code_.data();
}

SeccompProgram::SeccompProgram(SeccompProgram&& other) noexcept : code_(std::move(other.code_)) {
  fprog_.len = static_cast<unsigned short>(code_.size());
  fprog_.filter = code_.data();
  other.code_.clear();
  other.fprog_ = {};
}

SeccompProgram& SeccompProgram::operator=(SeccompProgram&& other) noexcept {
  if (this != &other) {
    code_ = std::move(other.code_);
    fprog_.len = static_cast<unsigned short>(code_.size());
    fprog_.filter = code_.data();
    other.code_.clear();
    other.fprog_ = {};
  }
  return *this;
}

std::vector<uint32_t> seccomp_architectures() {
  uint32_t native = seccomp_arch_native();
  switch (native) {
    case SCMP_ARCH_X86_64: {
      std::vector<uint32_t> arches{SCMP_ARCH_X86_64};
      if (kernel_abis().i386) arches.push_back(SCMP_ARCH_X86);
      if (kernel_abis().x32) arches.push_back(SCMP_ARCH_X32);
      return arches;
    }
    case SCMP_ARCH_AARCH64:
      return {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM};
    default:
      return {native};
  }
}

namespace {

const char* arch_name(uint32_t arch) {
  switch (arch) {
    case SCMP_ARCH_X86_64: return "x86_64";
    case SCMP_ARCH_X86: return "x86";
    case SCMP_ARCH_X32: return "x32";
    case SCMP_ARCH_AARCH64: return "aarch64";
    case SCMP_ARCH_ARM: return "arm";
    default: return "native";
  }
}

}  // namespace

std::vector<std::string> seccomp_architecture_names() {
  std::vector<std::string> names;
  for (uint32_t arch : seccomp_architectures()) names.emplace_back(arch_name(arch));
  return names;
}

bool is_known_syscall(std::string_view name) {
  // libseccomp's table has a row for every syscall of every architecture it supports; a name it
  // has no row for is a typo (or newer than this libseccomp, and then the filter could not name
  // it anyway). Only plain identifiers: libseccomp would also look up other strings.
  if (name.empty() || !(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  std::string copy(name);
  return seccomp_syscall_resolve_name(copy.c_str()) != __NR_SCMP_ERROR;
}

std::optional<int> native_syscall_number(std::string_view name) {
  if (!is_known_syscall(name)) return std::nullopt;
  std::string copy(name);
  int nr = seccomp_syscall_resolve_name(copy.c_str());
  if (nr < 0) return std::nullopt;  // a pseudo number: not a syscall on this architecture
  return nr;
}

namespace {

struct CtxDeleter {
  void operator()(void* ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

uint32_t to_libseccomp(const SeccompAction& a) {
  switch (a.kind) {
    case SeccompActionKind::allow: return SCMP_ACT_ALLOW;
    case SeccompActionKind::errno_code: return SCMP_ACT_ERRNO(static_cast<uint16_t>(a.errno_value));
    case SeccompActionKind::kill_process: return SCMP_ACT_KILL_PROCESS;
    case SeccompActionKind::kill_thread: return SCMP_ACT_KILL_THREAD;
    case SeccompActionKind::trap: return SCMP_ACT_TRAP;
    case SeccompActionKind::log: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_libseccomp(SeccompOp op) {
  switch (op) {
    case SeccompOp::eq: return SCMP_CMP_EQ;
    case SeccompOp::ne: return SCMP_CMP_NE;
    case SeccompOp::lt: return SCMP_CMP_LT;
    case SeccompOp::le: return SCMP_CMP_LE;
    case SeccompOp::gt: return SCMP_CMP_GT;
    case SeccompOp::ge: return SCMP_CMP_GE;
    case SeccompOp::masked_eq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

// The checks libseccomp does not do, or does by silently dropping a rule.
void validate_seccomp(const SeccompProfile& profile) {
  if (profile.default_action.kind == SeccompActionKind::errno_code &&
      (profile.default_action.errno_value < 1 || profile.default_action.errno_value > 4095))
    throw SeccompCompileError(-1, -1, "default action: errno must be 1 to 4095");
  // For each syscall: the first rule naming it, and whether that rule is unconditional.
  std::map<std::string, std::pair<int, bool>, std::less<>> seen;
  for (size_t i = 0; i < profile.rules.size(); ++i) {
    const SeccompRule& rule = profile.rules[i];
    const int r = static_cast<int>(i);
    if (rule.names.empty()) throw SeccompCompileError(r, -1, "names: must not be empty");
    if (rule.action.kind == SeccompActionKind::errno_code &&
        (rule.action.errno_value < 1 || rule.action.errno_value > 4095))
      throw SeccompCompileError(r, -1, "action: errno must be 1 to 4095");
    std::set<unsigned> indexes;
    for (const SeccompArg& arg : rule.args) {
      if (arg.index > 5) throw SeccompCompileError(r, -1, "args: a syscall has arguments 0 to 5");
      // libseccomp rejects two comparisons of one argument in a rule.
      if (!indexes.insert(arg.index).second)
        throw SeccompCompileError(r, -1, "args: argument " + std::to_string(arg.index) +
                                             " is compared twice; a rule can compare each argument once");
      if (arg.op == SeccompOp::masked_eq && (arg.value & ~arg.mask) != 0)
        throw SeccompCompileError(r, -1, "args: value has bits outside mask, so the rule could never match");
    }
    const bool unconditional = rule.args.empty();
    for (size_t j = 0; j < rule.names.size(); ++j) {
      const std::string& name = rule.names[j];
      const int n = static_cast<int>(j);
      if (!is_known_syscall(name)) throw SeccompCompileError(r, n, "unknown syscall " + quote(name));
      auto [it, inserted] = seen.try_emplace(name, r, unconditional);
      if (inserted) continue;
      auto [first, first_unconditional] = it->second;
      if (first == r) throw SeccompCompileError(r, n, quote(name) + " is listed twice in this rule");
      // libseccomp keeps one unconditional rule per syscall and lets it override conditional
      // ones, whichever came first: "allow" then "errno:EPERM" would silently mean EPERM.
      if (unconditional || first_unconditional)
        throw SeccompCompileError(r, n, quote(name) + " already has a rule (syscalls[" + std::to_string(first) +
                                            "]); a syscall can have one rule without args, or only rules with args");
    }
  }
}

namespace {

// Builds the filter for one architecture; compile_seccomp merges them. One context per
// architecture, with seccomp_rule_add_exact, because of how libseccomp treats i386's socketcall:
// given "socket if a0 == AF_UNIX", the non-exact seccomp_rule_add also adds "socketcall if
// a0 == SYS_SOCKET" -- replacing the address-family comparison with the sub-call number, since
// socketcall's real arguments are in memory where seccomp cannot look. That would let
// int $0x80 socketcall(SYS_SOCKET, {AF_INET, ...}) through a rule meant to allow only AF_UNIX.
// The exact call refuses (EINVAL) instead; we then leave the i386 socket call out of the filter,
// so it gets the default action: argument rules on socket calls never become weaker on i386,
// at the price that such calls are unavailable to 32-bit programs. socketcall itself is
// filtered like any syscall (the shipped policies deny its SYS_SOCKET sub-call).
Ctx compile_arch(const SeccompProfile& profile, uint32_t arch) {
  const uint32_t default_action = to_libseccomp(profile.default_action);
  Ctx ctx(seccomp_init(default_action));
  if (!ctx) throw std::runtime_error("seccomp_init failed");
  auto check = [&](int rc, const char* what) {
    if (rc != 0) throw SysError(-rc, std::string(what) + " (" + arch_name(arch) + ")");
  };
  if (arch != seccomp_arch_native()) {
    check(seccomp_arch_add(ctx.get(), arch), "seccomp_arch_add");
    check(seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE), "seccomp_arch_remove");
  }
  // A call from an ABI the filter has no section for is one the kernel does not run (see
  // kernel_abis.h): refused without running it, with the kernel's own answer for such a call.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)), "seccomp_attr_set(ACT_BADARCH)");
  // We load the program ourselves; libseccomp's own no_new_privs handling is for seccomp_load.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set(CTL_NNP)");
  // Level 2 sorts the syscalls into a binary tree: about 9 comparisons per syscall for a
  // 300-entry allowlist instead of a linear scan, on every syscall of every job.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp_attr_set(CTL_OPTIMIZE)");

  for (size_t i = 0; i < profile.rules.size(); ++i) {
    const SeccompRule& rule = profile.rules[i];
    const uint32_t action = to_libseccomp(rule.action);
    // libseccomp refuses a rule whose action is the default action (EACCES). Such a rule is
    // still worth writing: clone3 -> errno:ENOSYS says on purpose what the default says by
    // accident.
    if (action == default_action) continue;
    std::vector<scmp_arg_cmp> cmps;
    for (const SeccompArg& a : rule.args) {
      scmp_arg_cmp c{};
      c.arg = a.index;
      c.op = to_libseccomp(a.op);
      c.datum_a = a.op == SeccompOp::masked_eq ? a.mask : a.value;
      c.datum_b = a.op == SeccompOp::masked_eq ? a.value : 0;
      cmps.push_back(c);
    }
    for (size_t j = 0; j < rule.names.size(); ++j) {
      const char* name = rule.names[j].c_str();
      // No such syscall on this architecture (or only as a socketcall/ipc sub-call): nothing to do.
      if (seccomp_syscall_resolve_name_arch(arch, name) < 0) continue;
      // libseccomp takes the *native* number and translates it to each filter's architecture by
      // name (pseudo numbers included, so "socketcall" reaches the x86 filter).
      int nr = seccomp_syscall_resolve_name(name);
      int rc = seccomp_rule_add_exact_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                            cmps.empty() ? nullptr : cmps.data());
      if (rc == -EINVAL && arch == SCMP_ARCH_X86 && !cmps.empty()) continue;  // socketcall: see above
      if (rc != 0)
        throw SeccompCompileError(static_cast<int>(i), static_cast<int>(j),
                                  "libseccomp rejected the rule for " + quote(rule.names[j]) + " on " +
                                      arch_name(arch) + ": " + std::strerror(-rc));
    }
  }
  return ctx;
}

}  // namespace

SeccompProgram compile_seccomp(const SeccompProfile& profile) { return compile_seccomp(profile, seccomp_architectures()); }

SeccompProgram compile_seccomp(const SeccompProfile& profile, const std::vector<uint32_t>& arches) {
  validate_seccomp(profile);
  Ctx merged = compile_arch(profile, arches.front());
  for (size_t i = 1; i < arches.size(); ++i) {
    Ctx other = compile_arch(profile, arches[i]);
    int rc = seccomp_merge(merged.get(), other.get());
    if (rc != 0) throw SysError(-rc, std::string("seccomp_merge(") + arch_name(arches[i]) + ")");
    other.release();  // seccomp_merge freed it
  }

  // libseccomp 2.5 exports only to a file descriptor (seccomp_export_bpf_mem is 2.6): a memfd.
  UniqueFd fd(memfd_create("cellblock-seccomp", MFD_CLOEXEC));
  if (!fd) throw_sys("memfd_create(\"cellblock-seccomp\")");
  int rc = seccomp_export_bpf(merged.get(), fd.get());
  if (rc != 0) throw SysError(-rc, "seccomp_export_bpf");
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size < 0) throw_sys("lseek(memfd)");
  if (size == 0 || size % sizeof(sock_filter) != 0)
    throw std::runtime_error("seccomp_export_bpf wrote " + std::to_string(size) + " bytes, not whole BPF instructions");
  std::vector<sock_filter> code(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = pread(fd.get(), code.data(), static_cast<size_t>(size), 0);
  if (got < 0) throw_sys("pread(memfd)");
  if (got != size) throw std::runtime_error("short read of the exported seccomp filter");
  return SeccompProgram(std::move(code));
}

}  // namespace cellblock
