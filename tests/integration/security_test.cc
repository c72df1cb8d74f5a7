// Security of the cell: /proc masks, capabilities, no_new_privs, user namespace, rlimits, the
// working-directory check and /proc/PID/exe (issue: security policies).
#include <sys/stat.h>

#include <filesystem>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string status_field(const std::string& status, const std::string& key) {
  for (const std::string& line : lines(status))
    if (line.rfind(key + ":", 0) == 0) {
      size_t value = line.find_first_not_of(" \t", key.size() + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
  return "(missing)";
}

TEST(ProcMasks, HostWideEntriesAreHiddenOrReadOnly) {
  Result r = run(sh("{ echo '|/evil' > /proc/sys/kernel/core_pattern; } 2>&1; wc -c < /proc/keys; "
                    "wc -c < /proc/timer_list; ls -A /proc/acpi | wc -l; cat /proc/sys/kernel/ostype"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "/bin/sh: can't create /proc/sys/kernel/core_pattern: Read-only file system\n0\n0\n0\nLinux\n");
  EXPECT_NE(read_file("/proc/sys/kernel/core_pattern"), "|/evil\n");
}

TEST(ProcMasks, SysrqTriggerIsMaskedWhereTheKernelHasIt) {
  if (!fs::exists("/proc/sysrq-trigger")) GTEST_SKIP() << "this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)";
  Result r = run(sh("echo h > /proc/sysrq-trigger; wc -c < /proc/sysrq-trigger; stat -c %t:%T /proc/sysrq-trigger"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "0\n1:3\n");  // /dev/null over it
}

TEST(ProcMasks, MasksCannotBeUndone) {
  Result r = run(sh("umount /proc/sys 2>&1; umount /proc/keys 2>&1; mount -o remount,rw /proc/sys 2>&1; true"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("\n\n")));
  for (const std::string& line : lines(r.stdout_data))
    EXPECT_THAT(line, ::testing::AnyOf(HasSubstr("Operation not permitted"), HasSubstr("permission denied")));
  Result still = run(sh("grep -c ' /proc/sys ro' /proc/self/mountinfo"));
  EXPECT_EQ(still.stdout_data, "1\n");
}

TEST(Capabilities, DefaultPolicyKeepsTheSmallSetAfterExec) {
  Result r = run(job({"/bin/cat", "/proc/self/status"}));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // CAP_DAC_OVERRIDE(1) CAP_FOWNER(3) CAP_FSETID(4) CAP_NET_BIND_SERVICE(10).
  EXPECT_EQ(status_field(r.stdout_data, "CapEff"), "000000000000041a");
  EXPECT_EQ(status_field(r.stdout_data, "CapBnd"), "000000000000041a");
  EXPECT_EQ(status_field(r.stdout_data, "CapInh"), "0000000000000000");
  EXPECT_EQ(status_field(r.stdout_data, "CapAmb"), "0000000000000000");
  EXPECT_EQ(status_field(r.stdout_data, "NoNewPrivs"), "1");
  EXPECT_EQ(status_field(r.stdout_data, "Seccomp"), "2");
  EXPECT_EQ(status_field(r.stdout_data, "Uid"), "0\t0\t0\t0");
}

TEST(Capabilities, JudgeHasNoneAndRunsAsNobody) {
  Result r = run(job({"/bin/cat", "/proc/self/status"}, "judge"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(status_field(r.stdout_data, set), "0000000000000000") << set;
  EXPECT_EQ(status_field(r.stdout_data, "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(status_field(r.stdout_data, "Gid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(status_field(r.stdout_data, "Groups"), "");
  EXPECT_EQ(status_field(r.stdout_data, "NoNewPrivs"), "1");
}

TEST(Capabilities, AJobCanNameItsUser) {
  JobSpec j = job({"/bin/id"});
  j.user = Identity{1000, 1000};
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "uid=1000 gid=1000 groups=1000\n");
}

class UserNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cellblock-userns-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::all);  // the cell's root maps to an unprivileged host uid
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(UserNamespace, CellRootIsAnUnprivilegedHostUid) {
  JobSpec j = sh("id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /out/made-by-root");
  j.user_namespace = true;
  j.mounts.push_back({dir_.string(), "/out", false});
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  auto out = lines(r.stdout_data);
  ASSERT_EQ(out.size(), 4u) << r.stdout_data;
  EXPECT_EQ(out[0], "0");
  EXPECT_THAT(out[1], ::testing::MatchesRegex(" *0 +200000 +65536"));
  EXPECT_THAT(out[2], ::testing::MatchesRegex(" *0 +200000 +65536"));
  EXPECT_EQ(out[3], "deny");
  struct stat st;
  ASSERT_EQ(stat((dir_ / "made-by-root").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200000u);
  EXPECT_EQ(st.st_gid, 200000u);
}

TEST_F(UserNamespace, JudgeFilesBelongToTheMappedNobody) {
  JobSpec j = sh("id; touch /out/made-by-judge", "judge");
  j.mounts.push_back({dir_.string(), "/out", false});
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // No supplementary groups: they were cleared before the namespace, where setgroups is denied.
  EXPECT_EQ(r.stdout_data, "uid=65534(nobody) gid=65534(nogroup)\n");
  struct stat st;
  ASSERT_EQ(stat((dir_ / "made-by-judge").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200000u + 65534);
}

TEST_F(UserNamespace, HostRootFilesAreNotWritable) {
  // Root in the cell is not root on the host: host-owned files in a writable bind stay closed.
  std::ofstream(dir_ / "host-owned") << "host\n";
  fs::permissions(dir_ / "host-owned", fs::perms::owner_read | fs::perms::owner_write);
  JobSpec j = sh("cat /out/host-owned 2>&1; echo x >> /out/host-owned 2>&1; true");
  j.user_namespace = true;
  j.mounts.push_back({dir_.string(), "/out", false});
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("Permission denied"));
  EXPECT_EQ(read_file(dir_ / "host-owned"), "host\n");
}

TEST(Rlimits, FromTheJob) {
  JobSpec j = sh("ulimit -n; ulimit -c; ulimit -f; ulimit -s");
  j.limits.open_files = 64;
  j.limits.file_size_bytes = 1 << 20;
  j.limits.stack_bytes = 4 << 20;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "64\n0\n2048\n4096\n");  // ulimit -f and -s count 512-byte and 1 KiB blocks
}

TEST(Rlimits, FileSizeLimitStopsAWriter) {
  JobSpec j = sh("dd if=/dev/zero of=/tmp/f bs=1k count=100 2>&1");
  j.limits.file_size_bytes = 10 << 10;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::signaled) << describe(r);
  EXPECT_EQ(r.signal, SIGXFSZ);
}

TEST(WorkingDirectory, ASymlinkedCwdStaysInsideTheCell) {
  fs::path root = fs::temp_directory_path() / ("cellblock-cwd-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::copy(kRootfs, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_symlink("/../../../../..", root / "up");
  JobSpec j = sh("pwd -P; ls /");
  j.rootfs = root;
  j.cwd = "/up";
  Result r = run(j);
  fs::remove_all(root);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, ::testing::StartsWith("/\n"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("work")));
}

TEST(ProcExe, TheHostBinariesCannotBeReachedOrOverwritten) {
  // CVE-2019-5736: the cell's init is a clone of the supervisor, so /proc/1/exe is the host's
  // cellblock binary. The command must not open it, not even O_PATH-then-reopen.
  std::string before = read_file(kCellblockBinary);
  Result r = run(with_programs(job({"/t/proc_self_exe"})));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("RESULT proc1_exe_link EACCES"));
  EXPECT_THAT(r.stdout_data, HasSubstr("RESULT proc1_exe_read EACCES"));
  EXPECT_THAT(r.stdout_data, HasSubstr("RESULT proc1_exe_write EACCES"));
  EXPECT_THAT(r.stdout_data, HasSubstr("RESULT proc1_exe_reopen EACCES"));
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("RESULT proc_self_exe_write (EROFS|ETXTBSY)"));
  EXPECT_EQ(read_file(kCellblockBinary), before);
}

TEST(ProcExe, OverwritingItsOwnBinaryOnlyChangesTheCellsCopy) {
  // A command from the rootfs writes through /proc/self/exe: the overlay copies it up.
  fs::path root = fs::temp_directory_path() / ("cellblock-exe-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::copy(kRootfs, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::copy_file(fs::path(kCellPrograms) / "proc_self_exe", root / "bin" / "proc_self_exe");
  std::string before = read_file(root / "bin" / "proc_self_exe");
  JobSpec j = job({"/bin/proc_self_exe"});
  j.rootfs = root;
  Result r = run(j);
  std::string after = read_file(root / "bin" / "proc_self_exe");
  fs::remove_all(root);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace cellblock::test
