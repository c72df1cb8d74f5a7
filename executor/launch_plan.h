// A job turned into everything the cell needs, prepared before clone(): every string, argv and
// envp array, every mount. The child only walks the plan; it allocates nothing (DESIGN.md:
// after clone, before exec, only async-signal-safe code).
#pragma once

#include <sys/resource.h>

#include <linux/filter.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "executor/job_spec.h"

namespace cellblock {

// A job that cannot start: ends as `setup_error` with this text, e.g.
//   rootfs "/nope": No such file or directory
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
