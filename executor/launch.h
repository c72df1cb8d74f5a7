// Starting a cell: the pipes, the memfd with the job's stdin, and clone3() with every namespace.
// Supervisor side; the child half is run_cell_init() (executor/cell/cell_init.h).
#pragma once

#include <sys/types.h>

#include <string>

#include "executor/protocol/launch_plan.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

class JobCgroup;

struct LaunchedCell {
  pid_t pid = -1;
  UniqueFd pidfd;        // pollable: readable when the init has exited
  UniqueFd report_read;  // CellReport records, then end-of-file when the init exits
  UniqueFd stdout_read;  // non-blocking; none when stdout was handed (CellLaunch::stdout_write)
  UniqueFd stderr_read;  // non-blocking
  UniqueFd go_write;     // with CellLaunch::wait_for_go: CellMessage::go lets the command start
};

// What launch_cell needs, prepared by the steps before it (docs/executor.md, steps 1 and 2).
struct CellLaunch {
  const LaunchPlan& plan;
  const std::string& stdin_data;  // becomes the command's fd 0 (empty: /dev/null)
  int stdin_read = -1;            // a handed fd 0 in place of stdin_data (job_spec.h, HandedStdio)
  int stdout_write = -1;          // a handed fd 1: stdout goes there, not to the supervisor
  int dev_null = -1;              // an O_CLOEXEC fd of /dev/null
  int init_image = -1;            // the cellblock-init executable (cell_image.h)
  JobCgroup* cgroup = nullptr;    // the job's cgroup; null only in tests
  UniqueFd netns;                 // a fresh network namespace (net/netns_pool.h) to enter; none: one is made
  int ipcns = -1;                 // an IPC namespace to enter (a pod's, pod.h); -1: one is made
  // Prestart hooks will run (hooks.h): the init reports CellReport::namespaces_ready and holds
  // the command until LaunchedCell::go_write says go.
  bool wait_for_go = false;
};

// Step 3 of docs/executor.md: clones the cell's init into new pid, mount, network, ipc, uts and
// cgroup namespaces, in the job's cgroup (on v2 placed there by clone3, on v1 the child joins it
// by itself); the child then execs cellblock-init, handing it the plan in a memfd.
// Throws SysError when a host resource (pipe, clone) cannot be had.
LaunchedCell launch_cell(CellLaunch launch);

}  // namespace cellblock
