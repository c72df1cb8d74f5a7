// Starting a cell: the pipes, the memfd with the job's stdin, and clone3() with every namespace.
// Supervisor side; the child half is run_cell_init().
#pragma once

#include <sys/types.h>

#include "executor/protocol/launch_plan.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

class JobCgroup;

struct LaunchedCell {
  pid_t pid = -1;
  UniqueFd pidfd;        // pollable: readable when the init has exited
  UniqueFd report_read;  // CellReport records, then end-of-file when the init exits
  UniqueFd stdout_read;  // non-blocking
  UniqueFd stderr_read;  // non-blocking
};

// Clones the cell's init into new pid, mount, network, ipc, uts and cgroup namespaces, in
// `cgroup` (may be null): on v2 placed there by clone3, on v1 the child joins it by itself;
// the child then execs cellblock-init, handing it the plan in a memfd.
// `stdin_data` becomes the command's fd 0.
// Throws SysError when a host resource (pipe, clone) cannot be had.
// `init_image` is the cellblock-init executable (cell_image.h).
// `netns`, when valid, is a fresh network namespace (netns_pool.h) the cell enters instead of
// creating one.
LaunchedCell launch_cell(const LaunchPlan& plan, const std::string& stdin_data, int dev_null, int init_image,
                         JobCgroup* cgroup, UniqueFd netns = {});

}  // namespace cellblock
