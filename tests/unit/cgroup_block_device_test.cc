// resolve_io_limit(): what it accepts, what it rejects and how it says why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "executor/block_device.h"
#include "tests/unit/fake_cgroup_fs.h"

namespace cellblock {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string rejection(const std::string& device) {
  try {
    resolve_io_limit(IoLimit{device, 1, 0, 0, 0});
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(BlockDevice, TmpfsPathSaysWhatItIsOn) {
  // /dev/shm is a tmpfs on every usual Linux system.
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  struct stat st;
  ASSERT_EQ(::stat("/dev/shm", &st), 0);
  if (::major(st.st_dev) != 0) GTEST_SKIP() << "/dev/shm is not on a virtual filesystem here";
  std::string msg = rejection("/dev/shm");
  std::string devno = "0:" + std::to_string(::minor(st.st_dev));
  EXPECT_THAT(msg, HasSubstr("\"/dev/shm\" is on tmpfs (" + devno +
                             "), not a block device; "
                             "throttling applies to block devices only"));
}

TEST(BlockDevice, ProcIsRejected) {
  EXPECT_THAT(rejection("/proc/self"), HasSubstr("\"/proc/self\" is on proc (0:"));
}

TEST(BlockDevice, CharacterDeviceIsRejected) {
  EXPECT_THAT(rejection("/dev/null"),
              HasSubstr("\"/dev/null\" is a character device (1:3), not a block device"));
}

TEST(BlockDevice, MajorZeroNumberIsRejected) {
  EXPECT_THAT(rejection("0:34"), HasSubstr("\"0:34\" has major 0"));
}

TEST(BlockDevice, UnknownNumberAndMissingPathAreRejected) {
  EXPECT_THAT(rejection("4095:1048575"), HasSubstr("no block device 4095:1048575"));
  EXPECT_THAT(rejection("/no/such/path"),
              HasSubstr("\"/no/such/path\": No such file or directory"));
  EXPECT_THAT(rejection(""), HasSubstr("io device \"\""));
}

TEST(BlockDevice, PathOnADiskResolvesToThatDisk) {
  // The filesystem holding this test's binary directory, if it is on a block device.
  struct stat st;
  ASSERT_EQ(::stat("/proc/self/exe", &st), 0);
  ASSERT_EQ(::stat(fs::read_symlink("/proc/self/exe").c_str(), &st), 0);
  if (::major(st.st_dev) == 0) GTEST_SKIP() << "the build tree is not on a block device";
  auto expected = whole_disk(::major(st.st_dev), ::minor(st.st_dev));
  DeviceThrottle t =
      resolve_io_limit(IoLimit{fs::read_symlink("/proc/self/exe").string(), 100, 200, 300, 400});
  EXPECT_EQ(t.major, expected.first);
  EXPECT_EQ(t.minor, expected.second);
  EXPECT_EQ(t.read_bps, 100u);
  EXPECT_EQ(t.write_bps, 200u);
  EXPECT_EQ(t.read_iops, 300u);
  EXPECT_EQ(t.write_iops, 400u);
  // The same disk by number.
  std::string devno = std::to_string(expected.first) + ":" + std::to_string(expected.second);
  EXPECT_EQ(resolve_io_limit(IoLimit{devno, 1, 0, 0, 0}).major, expected.first);
}

// sysfs as the kernel lays it out: /sys/dev/block/MAJ:MIN links into /sys/devices, and a
// partition's directory sits inside its disk's.
TEST(BlockDevice, PartitionMapsToItsDiskThroughSysfs) {
  testing::TempDir sys;
  fs::path disk = sys.path() / "devices/pci0000:00/virtio1/block/sda";
  fs::create_directories(disk / "sda1");
  testing::spit(disk / "dev", "8:0\n");
  testing::spit(disk / "sda1/dev", "8:1\n");
  testing::spit(disk / "sda1/partition", "1\n");
  fs::create_directories(sys.path() / "dev/block");
  fs::create_symlink("../../devices/pci0000:00/virtio1/block/sda", sys.path() / "dev/block/8:0");
  fs::create_symlink("../../devices/pci0000:00/virtio1/block/sda/sda1",
                     sys.path() / "dev/block/8:1");
  EXPECT_EQ(whole_disk(8, 1, sys.path().string()), std::make_pair(8u, 0u));
  EXPECT_EQ(whole_disk(8, 0, sys.path().string()), std::make_pair(8u, 0u));
  EXPECT_THROW(whole_disk(8, 2, sys.path().string()), std::invalid_argument);
}

}  // namespace
}  // namespace cellblock
