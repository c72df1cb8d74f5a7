// The seccomp compiler and loader on small hand-written profiles, against the real kernel.
// Filters are installed with no_new_privs, so these tests need no privilege.
#include "executor/cell/seccomp_apply.h"
#include "executor/security/seccomp.h"

#include <gtest/gtest.h>
#include <seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "executor/security/compiled_policy.h"
#include "executor/security/kernel_abis.h"
#include "tests/kernel_features.h"
#include "tests/unit/seccomp_test_child.h"

namespace cellblock {
namespace {

using test::report;
using test::report_raw;
using test::run_in_child;

SeccompAction allow() { return {SeccompActionKind::allow, 0}; }
SeccompAction err(int e) { return {SeccompActionKind::errno_code, e}; }

// Enough for a child to report and exit, also under the sanitizers (which call sigaltstack,
// gettid and friends on the way out).
SeccompRule basics() {
  return {{"write", "exit", "exit_group", "getpid", "gettid", "tgkill", "brk", "mmap", "munmap", "mprotect",
           "madvise", "futex", "sigaltstack", "rt_sigaction", "rt_sigreturn", "rt_sigprocmask", "sched_yield"},
          allow(), {}, ""};
}

void load_or_die(const SeccompProgram& program) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(101);
  if (load_seccomp(program.prog()) != 0) _exit(102);
}

TEST(SeccompCompile, CoversEveryX86AbiTheKernelRuns) {
  if (seccomp_architecture_names().front() != "x86_64") GTEST_SKIP() << "not an x86_64 build";
  // The test's own probes (tests/kernel_features.h), not the library's, say what to expect.
  std::vector<std::string> expected{"x86_64"};
  if (test::ia32_emulation()) expected.push_back("x86");
  if (test::x32_abi()) expected.push_back("x32");
  std::printf("[ abis     ] the kernel runs: i386 %s, x32 %s\n", test::ia32_emulation() ? "yes" : "no",
              test::x32_abi() ? "yes" : "no");
  EXPECT_EQ(seccomp_architecture_names(), expected);
  EXPECT_EQ(kernel_abis().i386, test::ia32_emulation());
  EXPECT_EQ(kernel_abis().x32, test::x32_abi());
}

// The x32 and i386 sections still apply the policy where they are compiled in (a kernel that
// runs those ABIs), checked on any kernel by forcing all three sections: seccomp sees an x32
// call before the kernel looks at its number, so the x32 section answers even without x32.
TEST(SeccompLoad, ForcedSectionsApplyThePolicyToTheirAbi) {
  if (seccomp_architecture_names().front() != "x86_64") GTEST_SKIP() << "x86_64 only";
  SeccompProfile profile;
  profile.rules = {basics(), {{"getppid"}, err(EPERM), {}, ""}};
  SeccompProgram all = compile_seccomp(profile, {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32});
  SeccompProgram native = compile_seccomp(profile, {SCMP_ARCH_X86_64});
  EXPECT_GT(all.size(), native.size() * 2) << "a section per ABI";
  auto out = run_in_child([&](int fd) {
    load_or_die(all);
    report(fd, "x32_getppid", syscall(test::kX32Bit | SYS_getppid));
    report_raw(fd, "i386_getppid", test::syscall_i386(64 /* getppid */));
  });
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["x32_getppid"], "EPERM") << "the x32 section applies the policy's errno";
  EXPECT_EQ(out.results["i386_getppid"], test::i386_expect("EPERM"));
  // With the native section alone, an x32 call is refused whatever the policy says natively.
  out = run_in_child([&](int fd) {
    load_or_die(native);
    report(fd, "x32_getppid", syscall(test::kX32Bit | SYS_getppid));
    report(fd, "x32_getpid", syscall(test::kX32Bit | SYS_getpid));
  });
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["x32_getppid"], "ENOSYS");
  EXPECT_EQ(out.results["x32_getpid"], "ENOSYS") << "allowed natively, but no x32 section lets it through";
}

TEST(SeccompCompile, ProducesAProgramThatSurvivesMoves) {
  SeccompProfile profile;
  profile.rules = {basics()};
  SeccompProgram program = compile_seccomp(profile);
  ASSERT_NE(program.prog(), nullptr);
  EXPECT_GT(program.size(), 10u);
  EXPECT_EQ(program.prog()->len, program.size());
  SeccompProgram moved = std::move(program);
  EXPECT_EQ(program.prog(), nullptr);
  ASSERT_NE(moved.prog(), nullptr);
  EXPECT_EQ(moved.prog()->filter, moved.code().data());
  EXPECT_EQ(moved.prog()->len, moved.size());
}

TEST(SeccompCompile, KnowsSyscallNames) {
  EXPECT_TRUE(is_known_syscall("mount"));
  EXPECT_TRUE(is_known_syscall("socketcall"));          // i386 only, still a syscall name
  EXPECT_TRUE(is_known_syscall("s390_runtime_instr"));  // other architectures' names are known
  EXPECT_FALSE(is_known_syscall("mountt"));
  EXPECT_FALSE(is_known_syscall(""));
  EXPECT_FALSE(is_known_syscall("42"));
  EXPECT_FALSE(is_known_syscall("MOUNT"));
  EXPECT_EQ(native_syscall_number("getpid"), SYS_getpid);
  EXPECT_EQ(native_syscall_number("socketcall"), std::nullopt);
}

SeccompCompileError compile_error(const SeccompProfile& profile) {
  try {
    compile_seccomp(profile);
  } catch (const SeccompCompileError& e) {
    return e;
  }
  ADD_FAILURE() << "compiled without error";
  return SeccompCompileError(-2, -2, "");
}

TEST(SeccompCompile, RejectsTwoUnconditionalRulesForOneSyscall) {
  // libseccomp would silently let the second replace the first.
  SeccompProfile profile;
  profile.rules = {basics(), {{"getppid"}, allow(), {}, ""}, {{"uname", "getppid"}, err(EPERM), {}, ""}};
  auto e = compile_error(profile);
  EXPECT_EQ(e.rule(), 2);
  EXPECT_EQ(e.name(), 1);
  EXPECT_NE(std::string(e.what()).find("\"getppid\" already has a rule (syscalls[1])"), std::string::npos) << e.what();
}

TEST(SeccompCompile, RejectsAnUnconditionalRuleBesideConditionalOnes) {
  SeccompProfile profile;
  profile.rules = {{{"personality"}, allow(), {{0, SeccompOp::eq, 0, 0}}, ""},
                   {{"personality"}, err(EPERM), {}, ""}};
  auto e = compile_error(profile);
  EXPECT_EQ(e.rule(), 1);
  EXPECT_EQ(e.name(), 0);
  // The other order too.
  std::swap(profile.rules[0], profile.rules[1]);
  e = compile_error(profile);
  EXPECT_EQ(e.rule(), 1);
}

TEST(SeccompCompile, AcceptsDisjointConditionalRulesWithDifferentActions) {
  SeccompProfile profile;
  profile.rules = {basics(),
                   {{"socket"}, allow(), {{0, SeccompOp::eq, AF_UNIX, 0}}, ""},
                   {{"socket"}, err(EACCES), {{0, SeccompOp::ne, AF_UNIX, 0}}, ""}};
  EXPECT_NO_THROW(compile_seccomp(profile));
}

TEST(SeccompCompile, RejectsBadRules) {
  SeccompProfile profile;
  profile.rules = {{{"getpid", "mountt"}, allow(), {}, ""}};
  auto e = compile_error(profile);
  EXPECT_EQ(e.rule(), 0);
  EXPECT_EQ(e.name(), 1);
  EXPECT_STREQ(e.what(), "unknown syscall \"mountt\"");

  profile.rules = {{{"getpid", "getpid"}, allow(), {}, ""}};
  EXPECT_EQ(compile_error(profile).name(), 1);

  profile.rules = {{{"clone"}, allow(), {{0, SeccompOp::gt, 1, 0}, {0, SeccompOp::lt, 9, 0}}, ""}};
  e = compile_error(profile);
  EXPECT_EQ(e.name(), -1);
  EXPECT_NE(std::string(e.what()).find("compared twice"), std::string::npos);

  profile.rules = {{{"clone"}, allow(), {{0, SeccompOp::masked_eq, 0x3, 0x1}}, ""}};
  EXPECT_NE(std::string(compile_error(profile).what()).find("outside mask"), std::string::npos);

  profile.rules = {{{"clone"}, allow(), {{6, SeccompOp::eq, 0, 0}}, ""}};
  EXPECT_NE(std::string(compile_error(profile).what()).find("arguments 0 to 5"), std::string::npos);

  profile.rules = {{{}, allow(), {}, ""}};
  EXPECT_EQ(compile_error(profile).rule(), 0);

  profile.rules = {{{"getpid"}, err(0), {}, ""}};
  EXPECT_NE(std::string(compile_error(profile).what()).find("errno must be"), std::string::npos);
}

TEST(SeccompCompile, SkipsRulesThatRepeatTheDefaultAction) {
  // libseccomp refuses them (EACCES); for us they document intent (clone3 -> ENOSYS).
  SeccompProfile profile;
  profile.rules = {basics(), {{"clone3"}, err(ENOSYS), {}, ""}};
  EXPECT_NO_THROW(compile_seccomp(profile));
}

TEST(SeccompLoad, NullProgramIsAnErrorNotAllowAll) {
  EXPECT_EQ(load_seccomp(nullptr), EINVAL);
  sock_fprog empty{0, nullptr};
  EXPECT_EQ(load_seccomp(&empty), EINVAL);
}

TEST(SeccompLoad, RulesAndDefaultActionApply) {
  SeccompProfile profile;
  profile.rules = {basics(),
                   {{"getppid"}, err(EACCES), {}, ""},
                   {{"getuid"}, allow(), {}, ""}};
  SeccompProgram program = compile_seccomp(profile);
  auto out = run_in_child([&](int fd) {
    load_or_die(program);
    report(fd, "getppid", syscall(SYS_getppid));
    report(fd, "getuid", syscall(SYS_getuid));
    report(fd, "getegid", syscall(SYS_getegid));  // not listed: default action
    report(fd, "nr_1000", syscall(1000));
  });
  ASSERT_TRUE(out.exited_ok()) << out.status << " " << out.text;
  EXPECT_EQ(out.results["getppid"], "EACCES");
  EXPECT_EQ(out.results["getuid"], "ok");
  EXPECT_EQ(out.results["getegid"], "ENOSYS");
  EXPECT_EQ(out.results["nr_1000"], "ENOSYS");
}

TEST(SeccompLoad, ArgumentRulesApply) {
  SeccompProfile profile;
  profile.rules = {basics(),
                   {{"close"}, allow(), {}, ""},
                   {{"socket"}, allow(), {{0, SeccompOp::eq, AF_UNIX, 0}}, ""},
                   {{"socket"}, err(EACCES), {{0, SeccompOp::ne, AF_UNIX, 0}}, ""}};
  SeccompProgram program = compile_seccomp(profile);
  auto out = run_in_child([&](int fd) {
    load_or_die(program);
    report(fd, "unix", socket(AF_UNIX, SOCK_STREAM, 0));
    report(fd, "inet", socket(AF_INET, SOCK_STREAM, 0));
    // The upper half of a 64-bit argument counts: AF_UNIX with junk above bit 31 is not AF_UNIX.
    report(fd, "unix_high_bits", syscall(SYS_socket, (1L << 32) | AF_UNIX, SOCK_STREAM, 0));
  });
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["unix"], "ok");
  EXPECT_EQ(out.results["inet"], "EACCES");
  EXPECT_EQ(out.results["unix_high_bits"], "EACCES");
}

TEST(SeccompLoad, SocketArgumentRuleDoesNotOpenI386Socketcall) {
  // libseccomp's non-exact rule_add rewrites "socket if a0 == AF_UNIX" on x86 into "socketcall
  // if a0 == SYS_SOCKET", which would allow socketcall(SYS_SOCKET, {AF_INET, ...}). We compile
  // each architecture with rule_add_exact: with no socketcall rule, socketcall gets the default,
  // and so does i386's direct socket call, which libseccomp cannot filter by argument alone.
  if (seccomp_architecture_names().front() != "x86_64") GTEST_SKIP() << "x86_64 only";
  SeccompProfile profile;
  profile.rules = {basics(),
                   {{"close"}, allow(), {}, ""},
                   {{"socket"}, allow(), {{0, SeccompOp::eq, AF_UNIX, 0}}, ""},
                   {{"socket"}, err(EACCES), {{0, SeccompOp::ne, AF_UNIX, 0}}, ""}};
  SeccompProgram program = compile_seccomp(profile);
  // socketcall's arguments must be readable by a 32-bit call: below 4 GiB.
  auto* args = static_cast<uint32_t*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
  ASSERT_NE(args, MAP_FAILED);
  args[0] = AF_INET;
  args[1] = SOCK_STREAM;
  args[2] = 0;
  auto out = run_in_child([&](int fd) {
    load_or_die(program);
    report_raw(fd, "socketcall_inet", test::syscall_i386(test::i386::socketcall, 1 /* SYS_SOCKET */,
                                                         static_cast<long>(reinterpret_cast<uintptr_t>(args))));
    report_raw(fd, "i386_socket_inet", test::syscall_i386(test::i386::socket, AF_INET, SOCK_STREAM, 0));
    report_raw(fd, "i386_socket_unix", test::syscall_i386(test::i386::socket, AF_UNIX, SOCK_STREAM, 0));
  });
  munmap(args, 4096);
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["socketcall_inet"], test::i386_expect("ENOSYS"));
  EXPECT_EQ(out.results["i386_socket_inet"], test::i386_expect("ENOSYS"));
  EXPECT_EQ(out.results["i386_socket_unix"], test::i386_expect("ENOSYS"));
}

TEST(SeccompLoad, UnlistedAbiCallsGetTheDefaultNotAPass) {
  // A rule written once covers all three x86 ABIs, and a call through an ABI the rule does not
  // name is not let through by accident.
  if (seccomp_architecture_names().front() != "x86_64") GTEST_SKIP() << "x86_64 only";
  SeccompProfile profile;
  profile.rules = {basics(), {{"getppid"}, err(EPERM), {}, ""}};
  SeccompProgram program = compile_seccomp(profile);
  auto out = run_in_child([&](int fd) {
    load_or_die(program);
    report_raw(fd, "i386_getppid", test::syscall_i386(64 /* getppid */));
    report(fd, "x32_getppid", syscall(test::kX32Bit | SYS_getppid));
    report_raw(fd, "i386_getpid", test::syscall_i386(test::i386::getpid));
    report_raw(fd, "i386_getegid32", test::syscall_i386(202 /* getegid32 */));
  });
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["i386_getppid"], test::i386_expect("EPERM"));
  EXPECT_EQ(out.results["x32_getppid"], test::x32_answer("EPERM"));
  EXPECT_EQ(out.results["i386_getpid"], test::i386_expect("ok"));
  EXPECT_EQ(out.results["i386_getegid32"], test::i386_expect("ENOSYS"));
}

}  // namespace
}  // namespace cellblock
