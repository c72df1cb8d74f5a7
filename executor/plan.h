// Step 1 of Executor::run (docs/executor.md): a job checked against the host and turned into the
// LaunchPlan the cell walks (executor/protocol/launch_plan.h).
#pragma once

#include <stdexcept>
#include <string>

#include "executor/job_spec.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// A job that cannot start: ends as `setup_error` with this text, e.g.
//   rootfs "/nope": No such file or directory
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where the host puts things for cells.
struct HostLayout {
  std::string stage_dir;          // the directory each cell mounts its writable layer over
  uint32_t userns_base = 200000;  // first host uid/gid of the user-namespace range
  uint32_t userns_size = 65536;
};

// Validates the parts of a job that depend on the host (rootfs, mount sources, paths) and builds
// the plan. Throws SetupError naming the field, the value and the reason.
LaunchPlan make_launch_plan(const JobSpec& job, const HostLayout& host);

// "/a//b/./c/" -> "/a/b/c". Throws SetupError for relative paths and ".." components.
std::string normalize_cell_path(const std::string& field, const std::string& path);

}  // namespace cellblock
