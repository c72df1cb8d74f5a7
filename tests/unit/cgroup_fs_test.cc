// Parsers and file helpers of executor/cgroup_fs.h, on samples taken from real hosts.
#include "executor/cgroup/cgroup_fs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <limits>

#include "executor/base/sys_error.h"
#include "tests/unit/fake_cgroup_fs.h"

namespace cellblock {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// /proc/self/mountinfo of the build host (hybrid: v1 controllers, an empty cgroup2 tree).
constexpr const char* kHybridMountinfo =
    "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:8 master:2 - cgroup2 cgroup2 rw\n";

TEST(CgroupFs, ParsesMountinfoFieldsAndOptionalFields) {
  auto m = parse_mountinfo(kHybridMountinfo);
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m[0].major, 254u);
  EXPECT_EQ(m[0].minor, 0u);
  EXPECT_EQ(m[0].fs_type, "ext4");
  EXPECT_EQ(m[0].source, "/dev/vda");
  EXPECT_EQ(m[2].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m[2].root, "/");
  EXPECT_THAT(m[2].super_options, ElementsAre("rw", "cpu"));
  EXPECT_THAT(m[5].super_options, ElementsAre("rw", "name=systemd"));
  // Optional fields ("shared:8 master:2") before the "-" are skipped.
  EXPECT_EQ(m[6].fs_type, "cgroup2");
  EXPECT_EQ(m[6].mount_point, "/sys/fs/cgroup/unified");
}

TEST(CgroupFs, MountinfoUnescapesOctal) {
  auto m = parse_mountinfo("50 22 0:40 /a\\040b /mnt/with\\040space\\134x rw - tmpfs none rw\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].root, "/a b");
  EXPECT_EQ(m[0].mount_point, "/mnt/with space\\x");
}

TEST(CgroupFs, MalformedMountinfoNamesTheLine) {
  try {
    parse_mountinfo("50 22 0:40 / /mnt rw tmpfs none rw\n");  // no "-"
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/mnt rw tmpfs"));
  }
}

TEST(CgroupFs, ParsesProcSelfCgroup) {
  auto c = parse_proc_cgroup(
      "9:name=systemd:/\n"
      "4:memory:/process_api/4728e75423610d78d9c4fce7ac453a05\n"
      "2:cpu,cpuacct:/a:b\n"
      "0::/\n");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].id, 9u);
  EXPECT_THAT(c[0].controllers, ElementsAre("name=systemd"));
  EXPECT_EQ(c[1].path, "/process_api/4728e75423610d78d9c4fce7ac453a05");
  EXPECT_THAT(c[2].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(c[2].path, "/a:b");  // ':' in a path stays in the path
  EXPECT_EQ(c[3].id, 0u);
  EXPECT_TRUE(c[3].controllers.empty());
  EXPECT_EQ(c[3].path, "/");
  EXPECT_THROW(parse_proc_cgroup("garbage\n"), std::runtime_error);
}

TEST(CgroupFs, ParsesNumbersAndMax) {
  EXPECT_EQ(parse_u64("42\n"), 42u);
  EXPECT_EQ(parse_u64(" 7 "), 7u);
  EXPECT_EQ(parse_u64("max\n"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_u64(""), std::nullopt);
  EXPECT_EQ(parse_u64("12a"), std::nullopt);
  EXPECT_EQ(parse_u64("-1"), std::nullopt);
}

TEST(CgroupFs, FindsKeysInFlatKeyedFiles) {
  const char* cpu_stat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 0\n";
  EXPECT_EQ(find_key_u64(cpu_stat, "usage_usec"), 123456u);
  EXPECT_EQ(find_key_u64(cpu_stat, "system_usec"), 23456u);
  EXPECT_EQ(find_key_u64(cpu_stat, "user"), std::nullopt);  // whole keys only
  EXPECT_EQ(find_key_u64("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3u);
  EXPECT_EQ(find_key_u64("populated 1\nfrozen 0", "populated"), 1u);  // no final newline
}

TEST(CgroupFs, SumsIoStatOverDevices) {
  const char* io_stat =
      "254:0 rbytes=2097152 wbytes=4096 rios=32 wios=1 dbytes=0 dios=0\n"
      "7:0 rbytes=1000 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n";
  EXPECT_EQ(sum_nested_key(io_stat, "rbytes"), 2098152u);
  EXPECT_EQ(sum_nested_key(io_stat, "wbytes"), 4096u);
  EXPECT_EQ(sum_nested_key("", "rbytes"), 0u);
}

TEST(CgroupFs, SumsBlkioServiceBytes) {
  // blkio.throttle.io_service_bytes_recursive of a job that read 2 MiB and wrote 2 MiB on 7:0.
  const char* text =
      "7:0 Read 2097152\n7:0 Write 2097152\n7:0 Sync 4194304\n7:0 Async 0\n7:0 Discard 0\n"
      "7:0 Total 4194304\n254:0 Read 5\n254:0 Write 0\nTotal 4194309\n";
  EXPECT_EQ(sum_blkio_op(text, "Read"), 2097157u);
  EXPECT_EQ(sum_blkio_op(text, "Write"), 2097152u);
  EXPECT_EQ(sum_blkio_op("Total 0\n", "Read"), 0u);
}

TEST(CgroupFs, SplitsWordsAndPids) {
  EXPECT_THAT(split_words("cpuset cpu io memory\n"), ElementsAre("cpuset", "cpu", "io", "memory"));
  EXPECT_TRUE(split_words("\n").empty());
  EXPECT_THAT(parse_pids("12\n345\n"), ElementsAre(12, 345));
  EXPECT_TRUE(parse_pids("").empty());
}

TEST(CgroupFs, StartTimeSurvivesParensInComm) {
  // comm "a) b (c" shows as "(a) b (c)"; starttime is field 22.
  std::string stat =
      "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 "
      "987654 1000000 100 18446744073709551615";
  EXPECT_EQ(parse_stat_start_time(stat), 987654u);
  EXPECT_EQ(parse_stat_start_time("1234 (x) S 1"), std::nullopt);
}

TEST(CgroupFs, StartTimeOfProcesses) {
  auto self = process_start_time(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(process_start_time(::getpid()), self);
  // A child that has exited and been reaped has no start time any more.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(process_start_time(child), std::nullopt);
}

TEST(CgroupFs, WriteErrorNamesPathAndValue) {
  testing::TempDir dir;
  UniqueFd fd = open_dir(dir.path());
  try {
    write_file_at(fd.get(), "pids.max", "64", dir.path().string());
    FAIL() << "no exception";
  } catch (const SysError& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_THAT(e.what(),
                HasSubstr("write(\"" + (dir.path() / "pids.max").string() + "\", \"64\")"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
}

TEST(CgroupFs, ReadsFilesAndPollsWithPread) {
  testing::TempDir dir;
  testing::spit(dir.path() / "cpuacct.usage", "100\n");
  UniqueFd d = open_dir(dir.path());
  EXPECT_EQ(read_u64_at(d.get(), "cpuacct.usage", dir.path().string()), 100u);
  EXPECT_EQ(read_file_at(d.get(), "nope", dir.path().string(), /*missing_ok=*/true), std::nullopt);
  EXPECT_THROW(read_file_at(d.get(), "nope", dir.path().string()), SysError);

  UniqueFd f(::openat(d.get(), "cpuacct.usage", O_RDONLY | O_CLOEXEC));
  PolledFile polled(std::move(f), "cpuacct.usage");
  char buf[32];
  EXPECT_EQ(polled.read(buf, sizeof buf), "100\n");
  testing::spit(dir.path() / "cpuacct.usage", "250\n");
  EXPECT_EQ(polled.read(buf, sizeof buf), "250\n");  // same fd, new value
  EXPECT_GE(::fcntl(polled.fd(), F_GETFD) & FD_CLOEXEC, 1);
}

TEST(CgroupFs, DirFdsAreCloseOnExec) {
  testing::TempDir dir;
  UniqueFd fd = open_dir(dir.path());
  EXPECT_TRUE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_THROW(open_dir(dir.path() / "missing"), SysError);
}

}  // namespace
}  // namespace cellblock
