// Host paths in a job from a client. `cellblock serve` and `cellblock worker` take jobs from
// clients, and a client may be an attacker (docs/threat-model.md). A job's `rootfs`, each mount's
// `source`, a `policy` given as a file and a pod service's `rootfs` are host paths the supervisor
// opens as root: bound into the cell, a client's `{"source": "/", "target": "/host", "readonly":
// false}` would let it write any file of the host. So a client's job may name only paths in the
// directories the operator allows (`--allow-host-path DIR`, repeatable; none by default), with
// symlinks resolved. What the operator's `--defaults` gives is not checked: only what the client
// sent. `cellblock run` and `batch` run the operator's own jobs and check nothing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cellblock {

class ClientHostPaths {
 public:
  // Each directory must exist; it is resolved now (realpath). Throws FieldError naming `flag`.
  explicit ClientHostPaths(const std::vector<std::string>& allowed = {}, const std::string& flag = "--allow-host-path");

  // Throws FieldError naming the field ("rootfs", "mounts[1].source", "policy",
  // "pod.services[0].rootfs") when the client's job (before --defaults are merged) names a host
  // path that is relative, missing, or outside every allowed directory. Shapes that are wrong in
  // other ways are left to the job's reader.
  void check(const nlohmann::json& client_job) const;

  const std::vector<std::string>& allowed() const { return allowed_; }

 private:
  void check_path(const nlohmann::json& value, const std::string& field) const;

  std::vector<std::string> allowed_;  // resolved
  std::string flag_;
};

}  // namespace cellblock
