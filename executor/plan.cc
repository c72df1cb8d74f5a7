#include "executor/plan.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "executor/base/sys_error.h"
#include "executor/security/capabilities.h"
#include "executor/security/compiled_policy.h"
#include "executor/time_namespace.h"

namespace cellblock {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& value, const std::string& why) {
  throw SetupError(field + " " + quoted(value) + ": " + why);
}

// Overlay options are a comma-separated list and lowerdir a colon-separated one; the kernel
// has no escaping we can rely on across versions, so such paths are refused, not mangled.
void check_overlay_safe(const std::string& field, const std::string& path) {
  for (char c : {',', ':', '\\', '\n'})
    if (path.find(c) != std::string::npos)
      fail(field, path, std::string("cannot be an overlay layer: it contains '") + (c == '\n' ? "\\n" : std::string(1, c)) + "'");
}

void check_absolute_dir(const std::string& field, const std::string& path) {
  if (path.empty() || path[0] != '/') fail(field, path, "must be an absolute path");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(field, path, std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) fail(field, path, std::strerror(ENOTDIR));
}

std::string env_path(const JobSpec& job) {
  auto it = job.env.find("PATH");
  // The same default glibc's execvp uses when PATH is unset, widened with /usr/local and sbin.
  return it != job.env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
}

}  // namespace

std::string normalize_cell_path(const std::string& field, const std::string& path) {
  if (path.empty() || path[0] != '/') fail(field, path, "must be an absolute path");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(i, end - i);
    i = end;
    if (part.empty() || part == ".") continue;
    if (part == "..") fail(field, path, "must not contain \"..\"");
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

LaunchPlan make_launch_plan(const JobSpec& job, const HostLayout& host) {
  const std::string& stage_dir = host.stage_dir;
  LaunchPlan plan;
  if (job.command.empty()) throw SetupError("command: must not be empty");

  std::string lowerdir = job.rootfs;
  if (!job.image.empty() && job.lower_dirs.empty())
    fail("image", job.image, "not resolved into layers: this front end cannot run images (docs/images.md)");
  if (job.lower_dirs.empty()) {
    check_absolute_dir("rootfs", job.rootfs);
    check_overlay_safe("rootfs", job.rootfs);
  } else {
    lowerdir.clear();
    for (size_t i = 0; i < job.lower_dirs.size(); ++i) {
      std::string field = "lower_dirs[" + std::to_string(i) + "]";
      check_absolute_dir(field, job.lower_dirs[i]);
      check_overlay_safe(field, job.lower_dirs[i]);
      lowerdir += (i ? ":" : "") + job.lower_dirs[i];
    }
  }

  plan.stage_dir = stage_dir;
  plan.tmpfs_options = "size=" + std::to_string(job.limits.writable_bytes) + ",mode=0755";
  plan.upper_dir = stage_dir + "/upper";
  plan.work_dir = stage_dir + "/work";
  plan.root_dir = stage_dir + "/root";
  plan.tmp_dir = stage_dir + "/tmp";
  plan.shm_dir = stage_dir + "/shm";
  plan.overlay_options = "lowerdir=" + lowerdir + ",upperdir=" + plan.upper_dir + ",workdir=" + plan.work_dir;
  // mount(2) copies at most one page of options; longer ones are cut, and overlay then fails
  // with a confusing error or, worse, mounts fewer layers. Say so instead.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (plan.overlay_options.size() >= page)
    fail(job.lower_dirs.empty() ? "rootfs" : "image", job.lower_dirs.empty() ? job.rootfs : job.image,
         std::to_string(job.lower_dirs.size()) + " layers make overlay options of " +
             std::to_string(plan.overlay_options.size()) + " bytes; mount(2) takes at most " + std::to_string(page - 1) +
             " (fewer layers, or a shorter --state-dir)");

  for (size_t i = 0; i < job.mounts.size(); ++i) {
    const BindMount& m = job.mounts[i];
    std::string field = "mounts[" + std::to_string(i) + "]";
    if (m.source.empty() || m.source[0] != '/') fail(field + ".source", m.source, "must be an absolute path");
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) fail(field + ".source", m.source, std::strerror(errno));
    PlannedMount pm;
    pm.source = m.source;
    pm.target = normalize_cell_path(field + ".target", m.target);
    if (pm.target == "/") fail(field + ".target", m.target, "cannot replace the root");
    for (const char* reserved : {"/proc", "/dev", "/tmp"}) {
      std::string r = reserved;
      if (pm.target == r || pm.target.rfind(r + "/", 0) == 0)
        fail(field + ".target", m.target, "is inside " + r + ", which the cell provides itself");
    }
    pm.readonly = m.readonly;
    pm.source_is_dir = S_ISDIR(st.st_mode);
    plan.mounts.push_back(std::move(pm));
  }

  plan.hostname = job.hostname;
  plan.cwd = normalize_cell_path("cwd", job.cwd);

  plan.argv_storage = job.command;
  for (auto& [k, v] : job.env) plan.env_storage.push_back(k + "=" + v);
  plan.finish_arrays();

  const std::string& cmd = job.command[0];
  if (cmd.empty()) throw SetupError("command[0]: must not be empty");
  if (cmd.find('/') != std::string::npos) {
    plan.exec_candidates.push_back(cmd);
    plan.exec_display = "exec " + quoted(cmd);
  } else {
    std::string path = env_path(job);
    size_t i = 0;
    while (i <= path.size()) {
      size_t end = path.find(':', i);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(i, end - i);
      if (dir.empty()) dir = ".";  // an empty PATH entry means the working directory
      plan.exec_candidates.push_back(dir + "/" + cmd);
      i = end + 1;
    }
    plan.exec_display = "exec " + quoted(cmd) + " (searched PATH " + quoted(path) + ")";
  }

  auto limit = [](uint64_t v) { return rlimit{static_cast<rlim_t>(v), static_cast<rlim_t>(v)}; };
  plan.rlimits.push_back({RLIMIT_NOFILE, limit(job.limits.open_files)});
  plan.rlimits.push_back({RLIMIT_FSIZE, limit(job.limits.file_size_bytes)});
  plan.rlimits.push_back({RLIMIT_CORE, limit(0)});  // a crash must not write a core into the cell or host
  if (job.limits.stack_bytes) plan.rlimits.push_back({RLIMIT_STACK, limit(*job.limits.stack_bytes)});
  if (job.limits.data_bytes) plan.rlimits.push_back({RLIMIT_DATA, limit(*job.limits.data_bytes)});
  if (job.limits.address_space_bytes) plan.rlimits.push_back({RLIMIT_AS, limit(*job.limits.address_space_bytes)});

  if (job.security) {
    const SecurityPolicy& policy = job.security->policy;
    PlannedSecurity security;
    security.policy_name = policy.name;
    plan.user_namespace = job.user_namespace.value_or(policy.user_namespace);
    const Identity* user = job.user ? &*job.user : policy.user ? &*policy.user : nullptr;
    security.capabilities = plan_capabilities(policy.capabilities, user);
    // The command clears its supplementary groups before it enters the user namespace, whose
    // setgroups is denied (CVE-2014-8989); the switch inside must not try again.
    if (plan.user_namespace) security.capabilities.set_groups = false;
    security.no_new_privs = policy.no_new_privs;
    security.seccomp = job.security->seccomp.code();
    plan.security = std::move(security);
  }
  plan.breakdown = job.breakdown;
  if (job.time_namespace) require_time_namespaces();
  plan.time_namespace = job.time_namespace;
  if (plan.user_namespace) {
    std::string map = "0 " + std::to_string(host.userns_base) + " " + std::to_string(host.userns_size);
    plan.uid_map = map;
    plan.gid_map = map;
  }
  return plan;
}

}  // namespace cellblock
