// A job turned into everything the cell needs, prepared before clone(): every string, argv and
// envp array, every mount. The child only walks the plan; it allocates nothing (after clone,
// before exec, only async-signal-safe code: docs/architecture.md). The supervisor makes it
// (executor/plan.h); it crosses to the cell's init in a memfd (cell_plan_codec.h).
#pragma once

#include <sys/resource.h>

#include <linux/filter.h>

#include <optional>
#include <string>
#include <vector>

#include "executor/protocol/capability_plan.h"

namespace cellblock {

struct PlannedMount {
  std::string source;  // absolute host path that exists
  std::string target;  // normalised absolute path inside the cell ("/data/in")
  bool readonly = true;
  bool source_is_dir = true;
};

struct PlannedRlimit {
  int resource;
  rlimit value;
};

struct PlannedSecurity {
  std::string policy_name;
  CapabilityPlan capabilities;         // the policy's, adjusted for the job's user and userns
  bool no_new_privs = true;
  std::vector<sock_filter> seccomp;    // the policy's compiled filter (a copy: it crosses to the init)
};

struct LaunchPlan {
  // The writable layer: one tmpfs of writable_bytes holding the overlay's upper and work
  // directories and the cell's /tmp and /dev/shm, mounted over `stage_dir` inside the cell's
  // private mount namespace (the host never sees it; it vanishes with the namespace).
  std::string stage_dir;
  std::string tmpfs_options;
  std::string upper_dir, work_dir, root_dir, tmp_dir, shm_dir;
  std::string overlay_options;  // lowerdir=<rootfs>,upperdir=...,workdir=...

  std::vector<PlannedMount> mounts;
  std::string hostname;
  std::string cwd;

  // execve() arguments. exec_candidates holds the full paths to try in order: the command
  // itself when it contains a '/', else each PATH directory joined with it.
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;  // null-terminated, points into argv_storage
  std::vector<char*> envp;  // null-terminated, points into env_storage
  std::vector<std::string> exec_candidates;
  std::string exec_display;  // how errors name the command: exec "/bin/nope"

  std::vector<PlannedRlimit> rlimits;

  // The job's security policy as the command applies it (none only in unit tests).
  std::optional<PlannedSecurity> security;
  // A user namespace for the command: cell uids/gids 0..n-1 are host base..base+n-1.
  bool user_namespace = false;
  std::string uid_map, gid_map;  // "0 <base> <n>"
  bool breakdown = false;        // stamp each step (step_clock.h)
  // The command in a time namespace whose monotonic and boot-time clocks start near 0
  // (cell/time_apply.h).
  bool time_namespace = false;

  // Points argv and envp at argv_storage and env_storage (after they are filled or moved).
  void finish_arrays() {
    argv.clear();
    envp.clear();
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

}  // namespace cellblock
