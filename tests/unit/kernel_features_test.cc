// The kernel facts the suite adapts to (tests/kernel_features.h) agree with what the tests see
// when they make the same call their own way: a probe that said "reachable" on a kernel where the
// policy tests' i386 calls fault (or the reverse) would make them expect the wrong answers.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "tests/kernel_features.h"
#include "tests/unit/seccomp_test_child.h"

namespace cellblock {
namespace {

TEST(KernelFeatures, Ia32ProbeAgreesWithAnI386CallInATestChild) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the i386 entry point is an x86_64 matter";
#endif
  std::printf("[ kernel   ] IA32 emulation (int $0x80 from a 64-bit process): %s\n",
              test::ia32_emulation() ? "yes" : "no");
  auto out = test::run_in_child([](int fd) {
    long pid = test::syscall_i386(test::i386::getpid);
    if (pid == test::kI386Unreachable) test::report_text(fd, "getpid", "unreachable");
    else test::report_text(fd, "getpid", pid == ::getpid() ? "own pid" : std::to_string(pid).c_str());
  });
  ASSERT_TRUE(out.exited_ok()) << out.text;
  EXPECT_EQ(out.results["getpid"], test::i386_expect("own pid"));
}

}  // namespace
}  // namespace cellblock
