// Which cgroup version the host runs, where the hierarchies are mounted and where the supervisor
// sits in them; make_cgroup_driver() picks the driver from that.
#include <algorithm>
#include <stdexcept>

#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "executor/base/sys_error.h"

namespace cellblock {

namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The supervisor's cgroup as a host path: the mount shows the hierarchy from `root` down, and
// /proc/self/cgroup gives the path from the hierarchy's (or the cgroup namespace's) root.
// nullopt when the supervisor's cgroup is not visible through this mount.
std::optional<std::string> host_path(const MountInfo& m, const std::string& self_path) {
  std::string rel;
  if (m.root == "/") {
    rel = self_path;
  } else if (self_path == m.root) {
    rel = "/";
  } else if (self_path.size() > m.root.size() && self_path.compare(0, m.root.size(), m.root) == 0 &&
             self_path[m.root.size()] == '/') {
    rel = self_path.substr(m.root.size());
  } else {
    return std::nullopt;
  }
  std::string out = m.mount_point;
  if (rel != "/") {
    if (!out.empty() && out.back() == '/') out.pop_back();
    out += rel;
  }
  return out;
}

}  // namespace

bool CgroupHierarchy::has(std::string_view controller) const {
  return contains(controllers, controller);
}

CgroupMode detect_cgroup_mode(const std::vector<MountInfo>& mounts) {
  bool any_v2 = false;
  for (const auto& m : mounts) {
    if (m.fs_type != "cgroup2") continue;
    any_v2 = true;
    if (m.mount_point == "/sys/fs/cgroup") return CgroupMode::v2;
  }
  for (const auto& m : mounts) {
    if (m.fs_type != "cgroup") continue;
    for (auto c : kV1Controllers) {
      if (contains(m.super_options, c)) return CgroupMode::v1;
    }
  }
  if (any_v2) return CgroupMode::v2;
  throw std::runtime_error(
      "no cgroup hierarchy is mounted: mountinfo has neither cgroup2 nor a v1 hierarchy with "
      "memory, cpuacct or pids");
}

CgroupLayout detect_cgroup_layout(const std::vector<MountInfo>& mounts,
                                  const std::vector<ProcCgroup>& self,
                                  std::optional<CgroupMode> force_mode) {
  CgroupLayout layout;
  layout.mode = force_mode ? *force_mode : detect_cgroup_mode(mounts);

  if (layout.mode == CgroupMode::v2) {
    auto line = std::find_if(self.begin(), self.end(), [](const ProcCgroup& pc) {
      return pc.id == 0 && pc.controllers.empty();
    });
    if (line == self.end()) {
      throw std::runtime_error("cgroup v2: /proc/self/cgroup has no \"0::\" line");
    }
    // Prefer /sys/fs/cgroup when cgroup2 is mounted in several places.
    std::vector<const MountInfo*> candidates;
    for (const auto& m : mounts) {
      if (m.fs_type != "cgroup2") continue;
      if (m.mount_point == "/sys/fs/cgroup") {
        candidates.insert(candidates.begin(), &m);
      } else {
        candidates.push_back(&m);
      }
    }
    for (const MountInfo* m : candidates) {
      if (auto base = host_path(*m, line->path)) {
        layout.hierarchies.push_back({{}, m->mount_point, line->path, *base});
        return layout;
      }
    }
    throw std::runtime_error("cgroup v2: no cgroup2 mount shows this process's cgroup " +
                             cellblock::quoted(line->path));
  }

  for (auto controller : kV1Controllers) {
    bool done = std::any_of(layout.hierarchies.begin(), layout.hierarchies.end(),
                            [&](const CgroupHierarchy& h) { return h.has(controller); });
    if (done) continue;  // co-mounted with one found already, e.g. "cpu,cpuacct"
    auto line = std::find_if(self.begin(), self.end(), [&](const ProcCgroup& pc) {
      return contains(pc.controllers, controller);
    });
    bool required = std::find(std::begin(kV1RequiredControllers), std::end(kV1RequiredControllers),
                              controller) != std::end(kV1RequiredControllers);
    bool found = false;
    if (line != self.end()) {
      for (const auto& m : mounts) {
        if (m.fs_type != "cgroup" || !contains(m.super_options, controller)) continue;
        auto base = host_path(m, line->path);
        if (!base) continue;  // a bind mount of another part of the hierarchy
        CgroupHierarchy h;
        h.controllers = line->controllers;
        h.mount_point = m.mount_point;
        h.self_path = line->path;
        h.base = *base;
        layout.hierarchies.push_back(std::move(h));
        found = true;
        break;
      }
    }
    if (!found && required) {
      throw std::runtime_error("cgroup v1: the \"" + std::string(controller) +
                               "\" controller is not mounted where this process's cgroup is "
                               "visible (see /proc/self/mountinfo and /proc/self/cgroup); "
                               "cellblock needs memory, cpuacct and pids");
    }
  }
  return layout;
}

std::unique_ptr<CgroupDriver> make_cgroup_driver(const CgroupConfig& config) {
  auto mounts = parse_mountinfo(read_file(config.mountinfo));
  auto self = parse_proc_cgroup(read_file(config.self_cgroup));
  CgroupLayout layout = detect_cgroup_layout(mounts, self, config.force_mode);
  if (layout.mode == CgroupMode::v1) return make_cgroup_v1_driver(layout, config);
  return make_cgroup_v2_driver(layout, config);
}

}  // namespace cellblock
