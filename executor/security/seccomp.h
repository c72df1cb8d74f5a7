// Seccomp: compile a SeccompProfile once with libseccomp into a BPF program, load it in the
// child with one raw syscall.
//
// Parent side (before clone): compile_seccomp() -> SeccompProgram, immutable, shared by every
// job of the policy. Compiling costs milliseconds (libseccomp builds and optimises a decision
// tree); loading costs microseconds, so a policy is compiled once per process (PolicyRegistry).
// Cell side (after clone): load_seccomp(prog) in executor/cell/seccomp_apply.h -- no libseccomp,
// no allocation.
//
// Architectures: a filter covers every syscall ABI the kernel accepts on this machine, because
// seccomp sees the ABI of each call, not of the binary: on x86_64 a process can enter the
// kernel as x86_64 (syscall), i386 (int $0x80) or x32 (syscall with bit 30 set in the number),
// and a rule written for one ABI does nothing for the others. On x86_64 we compile x86_64, and
// x86 and x32 where the running kernel accepts them (kernel_abis.h: a section costs every cell
// its load); on aarch64, aarch64 and arm; elsewhere the native ABI. A call from any other ABI
// is refused with ENOSYS, as the kernel itself answers it.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellblock {

struct SeccompProfile;

// A rule that cannot be compiled. rule / name index into SeccompProfile::rules and the rule's
// names (name is -1 when the problem is the whole rule), so jobs/ can point at the JSON.
class SeccompCompileError : public std::runtime_error {
 public:
  SeccompCompileError(int rule, int name, const std::string& reason)
      : std::runtime_error(reason), rule_(rule), name_(name) {}
  int rule() const noexcept { return rule_; }
  int name() const noexcept { return name_; }

 private:
  int rule_;
  int name_;
};

// A compiled filter: an owned array of BPF instructions and the sock_fprog that points at it.
// Move-only; prog() stays valid as long as the object lives.
class SeccompProgram {
 public:
  SeccompProgram() = default;
  explicit SeccompProgram(std::vector<sock_filter> code);
  SeccompProgram(const SeccompProgram&) = delete;
  SeccompProgram& operator=(const SeccompProgram&) = delete;
  SeccompProgram(SeccompProgram&& other) noexcept;
  SeccompProgram& operator=(SeccompProgram&& other) noexcept;

  // Null when empty (no filter).
  const sock_fprog* prog() const noexcept { return code_.empty() ? nullptr : &fprog_; }
  size_t size() const noexcept { return code_.size(); }  // instructions
  const std::vector<sock_filter>& code() const noexcept { return code_; }

 private:
  std::vector<sock_filter> code_;
  sock_fprog fprog_{};
};

// The libseccomp architecture tokens a filter built on this machine covers (see above).
std::vector<uint32_t> seccomp_architectures();
// Names of those architectures as libseccomp spells them ("x86_64", "x86", "x32").
std::vector<std::string> seccomp_architecture_names();

// True when libseccomp knows the syscall name on some architecture (its table can be newer than
// the running kernel, and covers every architecture, so "s390_runtime_instr" is known on x86_64
// too; such a rule is simply left out of the filters of architectures that lack the syscall).
bool is_known_syscall(std::string_view name);
// The number of a syscall on the native architecture, if it has one there.
std::optional<int> native_syscall_number(std::string_view name);

// The checks compile_seccomp makes before compiling, for callers that only validate: every
// name known, a rule's names distinct, each argument compared once per rule, errno values in
// range, and no syscall given two unconditional rules, or an unconditional and a conditional
// one (libseccomp would silently keep one of them). Throws SeccompCompileError.
void validate_seccomp(const SeccompProfile& profile);

// Compiles a profile for every architecture in seccomp_architectures(), after
// validate_seccomp(). Throws SeccompCompileError for a bad rule.
SeccompProgram compile_seccomp(const SeccompProfile& profile);
// The same for the given architectures, native first (libseccomp tokens): the tests load
// sections the running kernel has no use for, to check them on any machine.
SeccompProgram compile_seccomp(const SeccompProfile& profile, const std::vector<uint32_t>& arches);

}  // namespace cellblock
