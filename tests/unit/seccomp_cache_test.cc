// The on-disk cache of compiled seccomp programs: a hit gives the very program a compile gives,
// a changed profile or a tampered or foreign file is never used.
#include "executor/security/seccomp_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "executor/base/host_file.h"
#include "executor/security/kernel_abis.h"

namespace cellblock {
namespace {

namespace fs = std::filesystem;

SeccompProfile profile_with(const std::string& extra) {
  SeccompProfile p;
  p.rules = {{{"read", "write", "exit_group", extra}, {SeccompActionKind::allow, 0}, {}, ""},
             {{"mount"}, {SeccompActionKind::errno_code, EPERM}, {}, ""}};
  return p;
}

bool same_code(const SeccompProgram& a, const SeccompProgram& b) {
  return a.size() == b.size() && std::memcmp(a.code().data(), b.code().data(), a.size() * sizeof(sock_filter)) == 0;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir)) found.push_back(e.path());
  return found;
}

class SeccompCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cellblock-seccomp-cache-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SeccompCache, StoresTheCompiledProgramAndGivesItBack) {
  const SeccompProfile p = profile_with("getpid");
  const SeccompProgram compiled = compile_seccomp(p);
  const SeccompProgram first = compile_seccomp_cached(p, dir_);
  ASSERT_TRUE(same_code(first, compiled));
  auto files = files_in(dir_);
  ASSERT_EQ(files.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // The second time it is read: make the stored program recognisably different (a valid
  // instruction count, the key untouched) and see that it is what comes back.
  std::string text;
  {
    std::ifstream in(files[0], std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text.append(reinterpret_cast<const char*>(compiled.code().data()), sizeof(sock_filter));  // one more
  {
    std::ofstream out(files[0], std::ios::binary | std::ios::trunc);
    out << text;
  }
  const SeccompProgram second = compile_seccomp_cached(p, dir_);
  EXPECT_EQ(second.size(), compiled.size() + 1) << "the stored program was not used";
}

TEST_F(SeccompCache, AChangedProfileIsCompiledAgain) {
  const SeccompProgram a = compile_seccomp_cached(profile_with("getpid"), dir_);
  const SeccompProgram b = compile_seccomp_cached(profile_with("getppid"), dir_);
  EXPECT_FALSE(same_code(a, b));
  EXPECT_TRUE(same_code(b, compile_seccomp(profile_with("getppid"))));
  EXPECT_EQ(files_in(dir_).size(), 2u);
}

TEST_F(SeccompCache, ATamperedKeyIsIgnoredAndRewritten) {
  const SeccompProfile p = profile_with("getpid");
  compile_seccomp_cached(p, dir_);
  const fs::path file = files_in(dir_).at(0);
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find("names read");
  ASSERT_NE(at, std::string::npos);
  text[at + 6] = 'R';  // the stored key no longer matches the profile
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
  }
  EXPECT_TRUE(same_code(compile_seccomp_cached(p, dir_), compile_seccomp(p)));
  std::ifstream in(file, std::ios::binary);
  std::string now(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(now.find("names read"), std::string::npos) << "the file was not rewritten";
}

TEST_F(SeccompCache, AFileOthersMayWriteIsNotUsed) {
  const SeccompProfile p = profile_with("getpid");
  const SeccompProgram compiled = compile_seccomp_cached(p, dir_);
  const fs::path file = files_in(dir_).at(0);
  // Append an instruction (as above) and make the file group-writable: it must not be read.
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write(reinterpret_cast<const char*>(compiled.code().data()), sizeof(sock_filter));
  }
  ASSERT_EQ(::chmod(file.c_str(), 0620), 0);
  EXPECT_TRUE(same_code(compile_seccomp_cached(p, dir_), compiled));
}

// Which ABIs a program covers cannot change before the next boot, so the key names the boot and
// a hit needs no probe of the kernel (a vfork whose child may fault: time every `cellblock run`
// would pay). Each step runs in a forked child, so that this process stays unprobed for the next.
TEST_F(SeccompCache, AHitNeedsNoProbeOfTheKernelsAbis) {
  if (kernel_abis_probed()) GTEST_SKIP() << "this process probed already; run the test alone, as ctest does";
  std::string boot = read_host_file("/proc/sys/kernel/random/boot_id");
  boot.pop_back();  // the newline
  const SeccompProfile p = profile_with("getpid");
  EXPECT_NE(seccomp_cache_key(p).find("\nboot " + boot + "\n"), std::string::npos) << seccomp_cache_key(p);
  EXPECT_EXIT(
      {
        compile_seccomp_cached(p, dir_);  // a miss: compiles, and so probes
        std::_Exit(kernel_abis_probed() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "")
      << "a compile without a probe: the test proves nothing";
  ASSERT_EQ(files_in(dir_).size(), 1u);
  EXPECT_EXIT(
      {
        const SeccompProgram hit = compile_seccomp_cached(p, dir_);
        std::_Exit(kernel_abis_probed() ? 2 : same_code(hit, compile_seccomp(p)) ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "")
      << "exit 2: the hit probed; 3: the hit's program differs from a compile's";
}

TEST_F(SeccompCache, ValidationErrorsComeFirst) {
  SeccompProfile p = profile_with("no_such_syscall");
  EXPECT_THROW(compile_seccomp_cached(p, dir_), SeccompCompileError);
  EXPECT_FALSE(fs::exists(dir_) && !files_in(dir_).empty());
}

}  // namespace
}  // namespace cellblock
