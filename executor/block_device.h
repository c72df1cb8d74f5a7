// Resolves the device of a job's I/O limit ("/dev/vda", "254:0", or any path on a filesystem) to
// the whole-disk major:minor that blkio (v1) and io.max (v2) accept.
//
// What the kernel accepts (blkcg_conf_open_bdev, block/blk-cgroup.c): a whole disk only. A
// partition's MAJ:MIN is refused with ENODEV, as is a number that names no block device
// (0:34 of a tmpfs, 1:3 of /dev/null). So a partition is mapped to its disk through sysfs:
// /sys/dev/block/MAJ:MIN/partition exists for partitions, and ../dev holds the disk's MAJ:MIN.
// Device-mapper, md and loop devices are disks of their own and are kept as they are.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "executor/cgroup/cgroup.h"
#include "executor/job_spec.h"

namespace cellblock {

// Throws std::invalid_argument whose message says the value and why, e.g.
//   "/tmp" is on tmpfs (0:34), not a block device; throttling applies to block devices only
DeviceThrottle resolve_io_limit(const IoLimit& limit);

// The whole disk that MAJ:MIN belongs to: itself for a disk, the parent for a partition.
// Throws std::invalid_argument if sysfs has no such block device. `sysfs` is a parameter for
// tests.
std::pair<unsigned, unsigned> whole_disk(unsigned major, unsigned minor,
                                         std::string_view sysfs = "/sys");

}  // namespace cellblock
