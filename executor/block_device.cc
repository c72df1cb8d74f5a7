#include "executor/block_device.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "executor/cgroup/cgroup_fs.h"
#include "executor/base/sys_error.h"

namespace cellblock {

namespace {

std::string devno(unsigned major, unsigned minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

// "MAJ:MIN" exactly.
std::optional<std::pair<unsigned, unsigned>> parse_devno(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != colon && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  }
  auto maj = parse_u64(s.substr(0, colon));
  auto min = parse_u64(s.substr(colon + 1));
  if (!maj || !min || *maj > 0xfff || *min > 0xfffff) return std::nullopt;
  return std::make_pair(static_cast<unsigned>(*maj), static_cast<unsigned>(*min));
}

// The mount of the filesystem with device number MAJ:MIN (the last one: later mounts cover
// earlier ones), for its type and source.
std::optional<MountInfo> mount_of(unsigned major, unsigned minor) {
  std::vector<MountInfo> mounts;
  try {
    mounts = parse_mountinfo(read_file("/proc/self/mountinfo"));
  } catch (const std::exception&) {
    return std::nullopt;  // only used to explain or to find a btrfs device; not essential
  }
  std::optional<MountInfo> found;
  for (auto& m : mounts) {
    if (m.major == major && m.minor == minor) found = std::move(m);
  }
  return found;
}

[[noreturn]] void reject(const std::string& device, const std::string& why) {
  throw std::invalid_argument(cellblock::quoted(device) + " " + why +
                              "; throttling applies to block devices only");
}

}  // namespace

std::pair<unsigned, unsigned> whole_disk(unsigned major, unsigned minor, std::string_view sysfs) {
  std::string dir = std::string(sysfs) + "/dev/block/" + devno(major, minor);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    throw std::invalid_argument("no block device " + devno(major, minor) + " (" +
                                cellblock::quoted(dir) + ": " + std::strerror(errno) + ")");
  }
  if (::stat((dir + "/partition").c_str(), &st) != 0) return {major, minor};  // a whole disk
  // A partition: its sysfs directory sits inside its disk's, so ../dev is the disk's MAJ:MIN.
  std::string parent = dir + "/../dev";
  std::string text;
  try {
    text = read_file(parent);
  } catch (const SysError& e) {
    throw std::invalid_argument("partition " + devno(major, minor) + ": cannot read its disk's " +
                                "number: " + e.what());
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto disk = parse_devno(text);
  if (!disk) {
    throw std::invalid_argument("partition " + devno(major, minor) + ": " +
                                cellblock::quoted(parent) + " holds " + cellblock::quoted(text) +
                                ", not MAJ:MIN");
  }
  return *disk;
}

DeviceThrottle resolve_io_limit(const IoLimit& limit) {
  const std::string& device = limit.device;
  if (device.empty()) {
    throw std::invalid_argument(
        "io device \"\": give a block device (\"/dev/vda\"), \"MAJ:MIN\" or a path on a "
        "filesystem");
  }
  unsigned major = 0, minor = 0;
  if (auto dn = parse_devno(device)) {
    std::tie(major, minor) = *dn;
    if (major == 0) {
      reject(device,
             "has major 0, which only filesystems without a device (tmpfs, overlay, "
             "proc) use, not a block device");
    }
  } else {
    struct stat st;
    if (::stat(device.c_str(), &st) != 0) {
      throw std::invalid_argument(cellblock::quoted(device) + ": " + std::strerror(errno) +
                                  "; give a block device, \"MAJ:MIN\" or a path on a filesystem");
    }
    if (S_ISBLK(st.st_mode)) {
      major = ::major(st.st_rdev);
      minor = ::minor(st.st_rdev);
    } else if (S_ISCHR(st.st_mode)) {
      reject(device, "is a character device (" + devno(::major(st.st_rdev), ::minor(st.st_rdev)) +
                         "), not a block device");
    } else {
      major = ::major(st.st_dev);
      minor = ::minor(st.st_dev);
      if (major == 0) {
        // No block device behind the number. btrfs is the exception: it shows an anonymous
        // number per subvolume, but its mount's source is the block device it lives on.
        auto m = mount_of(major, minor);
        struct stat src;
        if (m && !m->source.empty() && m->source.front() == '/' &&
            ::stat(m->source.c_str(), &src) == 0 && S_ISBLK(src.st_mode)) {
          major = ::major(src.st_rdev);
          minor = ::minor(src.st_rdev);
        } else {
          std::string fs = m ? m->fs_type : "a filesystem without a block device";
          reject(device,
                 "is on " + fs + " (" + devno(0, ::minor(st.st_dev)) + "), not a block device");
        }
      }
    }
  }
  std::pair<unsigned, unsigned> disk;
  try {
    disk = whole_disk(major, minor);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(cellblock::quoted(device) + ": " + e.what());
  }
  DeviceThrottle out;
  out.major = disk.first;
  out.minor = disk.second;
  out.read_bps = limit.read_bps;
  out.write_bps = limit.write_bps;
  out.read_iops = limit.read_iops;
  out.write_iops = limit.write_iops;
  return out;
}

}  // namespace cellblock
