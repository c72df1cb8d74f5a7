// Detection of the cgroup mode and layout from mountinfo and /proc/self/cgroup samples.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"

namespace cellblock {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This build machine: v1 controllers, each in its own hierarchy, plus an empty cgroup2 tree.
constexpr const char* kHybridMounts =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kHybridSelf =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/4728e75423610d78d9c4fce7ac453a05\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
    "0::/\n";

// A systemd host on cgroup v2 (as in the cgv2-vm guest).
constexpr const char* kUnifiedMounts =
    "29 24 0:25 / /sys/fs/cgroup rw,relatime shared:8 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// An older systemd hybrid host: cpu and cpuacct co-mounted, systemd's own tree on cgroup2.
constexpr const char* kComountedMounts =
    "25 24 0:22 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
    "26 24 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "30 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "31 24 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "32 24 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
constexpr const char* kComountedSelf =
    "5:pids:/system.slice/ci.service\n4:memory:/system.slice/ci.service\n"
    "3:cpu,cpuacct:/system.slice/ci.service\n1:name=systemd:/system.slice/ci.service\n"
    "0::/system.slice/ci.service\n";

CgroupLayout layout(const char* mounts, const char* self) {
  return detect_cgroup_layout(parse_mountinfo(mounts), parse_proc_cgroup(self));
}

const CgroupHierarchy* find(const CgroupLayout& l, std::string_view controller) {
  for (const auto& h : l.hierarchies) {
    if (h.has(controller)) return &h;
  }
  return nullptr;
}

TEST(CgroupDetect, HybridHostIsV1AndIgnoresTheEmptyUnifiedTree) {
  EXPECT_EQ(detect_cgroup_mode(parse_mountinfo(kHybridMounts)), CgroupMode::v1);
  auto l = layout(kHybridMounts, kHybridSelf);
  EXPECT_EQ(l.mode, CgroupMode::v1);
  // memory, cpuacct, pids, cpu, blkio, freezer; not cpuset, devices or name=systemd.
  ASSERT_EQ(l.hierarchies.size(), 6u);
  EXPECT_EQ(find(l, "memory")->base,
            "/sys/fs/cgroup/memory/process_api/4728e75423610d78d9c4fce7ac453a05");
  EXPECT_EQ(find(l, "cpuacct")->base, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(find(l, "cpu")->base, "/sys/fs/cgroup/cpu");
  EXPECT_NE(find(l, "cpu"), find(l, "cpuacct"));
  EXPECT_EQ(find(l, "freezer")->mount_point, "/sys/fs/cgroup/freezer");
  EXPECT_EQ(find(l, "cpuset"), nullptr);
}

TEST(CgroupDetect, CoMountedCpuAndCpuacctAreOneHierarchy) {
  auto l = layout(kComountedMounts, kComountedSelf);
  EXPECT_EQ(l.mode, CgroupMode::v1);
  ASSERT_EQ(l.hierarchies.size(), 3u);  // cpu,cpuacct + memory + pids; no blkio or freezer
  const CgroupHierarchy* cpu = find(l, "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu, find(l, "cpuacct"));
  EXPECT_THAT(cpu->controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(cpu->base, "/sys/fs/cgroup/cpu,cpuacct/system.slice/ci.service");
  EXPECT_EQ(find(l, "freezer"), nullptr);
}

TEST(CgroupDetect, Cgroup2OnSysFsCgroupIsV2) {
  EXPECT_EQ(detect_cgroup_mode(parse_mountinfo(kUnifiedMounts)), CgroupMode::v2);
  auto l = layout(kUnifiedMounts, "0::/deleg\n");
  EXPECT_EQ(l.mode, CgroupMode::v2);
  ASSERT_EQ(l.hierarchies.size(), 1u);
  EXPECT_EQ(l.hierarchies[0].base, "/sys/fs/cgroup/deleg");
  EXPECT_EQ(layout(kUnifiedMounts, "0::/\n").hierarchies[0].base, "/sys/fs/cgroup");
}

TEST(CgroupDetect, Cgroup2OnSysFsCgroupWinsOverStrayV1Mounts) {
  std::string mounts = std::string(kUnifiedMounts) +
                       "50 29 0:40 / /mnt/net_cls rw - cgroup cgroup rw,net_cls\n"
                       "51 29 0:41 / /mnt/old rw - cgroup cgroup rw,cpuset\n";
  EXPECT_EQ(detect_cgroup_mode(parse_mountinfo(mounts)), CgroupMode::v2);
}

TEST(CgroupDetect, Cgroup2ElsewhereWithoutV1ControllersIsV2) {
  // A container that mounts cgroup2 at a different place, and only name=systemd on v1.
  const char* mounts =
      "60 50 0:40 / /run/cg rw - cgroup2 cgroup2 rw\n"
      "61 50 0:41 / /run/systemd-cg rw - cgroup cgroup rw,name=systemd\n";
  auto l = layout(mounts, "1:name=systemd:/\n0::/job\n");
  EXPECT_EQ(l.mode, CgroupMode::v2);
  EXPECT_EQ(l.hierarchies[0].base, "/run/cg/job");
}

TEST(CgroupDetect, MountRootIsStrippedFromTheSelfPath) {
  // A container whose cgroupfs shows only its own part of the hierarchy (no cgroup namespace).
  const char* mounts = "70 60 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(layout(mounts, "0::/docker/abc/sub\n").hierarchies[0].base, "/sys/fs/cgroup/sub");
  EXPECT_EQ(layout(mounts, "0::/docker/abc\n").hierarchies[0].base, "/sys/fs/cgroup");
  // A cgroup outside the mounted part is not visible: say so.
  EXPECT_THROW(layout(mounts, "0::/docker/abcd\n"), std::runtime_error);
}

TEST(CgroupDetect, NothingMountedIsAnError) {
  const char* mounts = "22 1 254:0 / / rw - ext4 /dev/vda rw\n";
  try {
    detect_cgroup_mode(parse_mountinfo(mounts));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("no cgroup hierarchy is mounted"));
  }
}

TEST(CgroupDetect, MissingRequiredV1ControllerIsNamed) {
  const char* mounts =
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
  try {
    layout(mounts, "3:cpu,cpuacct:/\n4:memory:/\n");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"pids\""));
  }
}

TEST(CgroupDetect, ForcedModeSkipsDetection) {
  auto l = detect_cgroup_layout(parse_mountinfo(kHybridMounts), parse_proc_cgroup(kHybridSelf),
                                CgroupMode::v2);
  EXPECT_EQ(l.mode, CgroupMode::v2);
  EXPECT_EQ(l.hierarchies[0].base, "/sys/fs/cgroup/unified");
}

TEST(CgroupDetect, SupervisorDirNames) {
  EXPECT_EQ(supervisor_dir_name(123, 456), "sv-123-456");
  auto id = parse_supervisor_dir_name("sv-123-456");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->first, 123);
  EXPECT_EQ(id->second, 456u);
  for (const char* bad : {"sv-", "sv-1", "sv-1-", "sv--2", "sv-a-1", "sv-1-2x", "x-1-2", "sv-0-1",
                          "supervisor", "sv-1-2-3"}) {
    EXPECT_EQ(parse_supervisor_dir_name(bad), std::nullopt) << bad;
  }
}

TEST(CgroupDetect, JobNamesAreOneComponent) {
  EXPECT_EQ(job_dir_name("42"), "job-42");
  for (const char* bad : {"", ".", "..", "a/b"}) {
    EXPECT_THROW(job_dir_name(bad), std::invalid_argument) << bad;
  }
}

TEST(CgroupDetect, CpuQuota) {
  EXPECT_EQ(cpu_quota_us(0.5), (std::pair<uint64_t, uint64_t>(50000, 100000)));
  EXPECT_EQ(cpu_quota_us(2), (std::pair<uint64_t, uint64_t>(200000, 100000)));
  EXPECT_EQ(cpu_quota_us(0.001).first, 1000u);  // the kernel's minimum quota is 1 ms
  CgroupLimits bad;
  bad.cpus = 0;
  EXPECT_THROW(validate_limits(bad), std::invalid_argument);
  bad.cpus = -1;
  EXPECT_THROW(validate_limits(bad), std::invalid_argument);
}

}  // namespace
}  // namespace cellblock
