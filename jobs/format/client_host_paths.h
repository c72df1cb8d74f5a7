// Host paths in a job from a client. `cellblock serve` and `cellblock worker` take jobs from
// clients, and a client may be an attacker (docs/threat-model.md). A job's `rootfs`, each mount's
// `source` and a pod service's `rootfs` are host paths the supervisor opens as root: bound into
// the cell, a client's `{"source": "/", "target": "/host", "readonly": false}` would let it write
// any file of the host. So a client's job may name only paths in the directories the operator
// allows (`--allow-host-path DIR`, repeatable; none by default): first by the path's text, so a
// refusal says nothing of what exists outside, then with symlinks resolved. Its mounts are
// read-only (a job that could write in an allowed directory could plant a symlink there for a
// later job), and it names a policy only by name (a policy file can grant any capability).
// What the operator's `--defaults` gives is not checked: only what the client sent. `cellblock
// run` and `batch` run the operator's own jobs and check nothing.
//
// Left open: the path is resolved when the job is accepted and again when it starts. Whoever can
// write in an allowed directory between the two (not a client: its mounts are read-only) could
// swap a directory for a symlink. Allow only directories nobody untrusted writes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"

namespace cellblock {

class ClientHostPaths {
 public:
  // Each directory must exist; it is resolved now (realpath). Throws FieldError naming `flag`.
  explicit ClientHostPaths(const std::vector<std::string>& allowed = {}, const std::string& flag = "--allow-host-path");

  // Throws FieldError naming the field ("rootfs", "mounts[1].source", "mounts[1].readonly",
  // "policy", "pod.services[0].rootfs") when the client's job (before --defaults are merged)
  // names a host path that is relative, missing or outside every allowed directory, a writable
  // mount, or a policy file. Shapes that are wrong in other ways are left to the job's reader.
  void check(const nlohmann::json& client_job) const;

  // The fields of a client's job that check() reads ("rootfs", "mounts", "policy", "pod"), as
  // the client sent them: `serve` journals them with the job, so that a service restarted with
  // other --allow-host-path directories checks a job it queues again by its own.
  static nlohmann::json named_fields(const nlohmann::json& client_job);

  // One host path a client names for a file to read (go-judge's {"src"}), checked as check()
  // checks a rootfs. Throws FieldError naming `field`.
  void check_path(const std::string& path, const std::string& field) const;

  // Opens a regular file that check_path() let through, for reading, if every user of the host
  // may read it (the service reads as root). The check is made again on the file opened (its real
  // path, from /proc/self/fd), so a symlink swapped in after the check cannot lead out; nothing
  // but a regular file is ever opened for reading. An invalid descriptor and the reason when not.
  UniqueFd open_file(const std::string& path, std::string& why) const;

 private:
  void check_value(const nlohmann::json& value, const std::string& field) const;

  std::string where() const;  // the end of every refusal: which directories, which flag
  // The deepest allowed directory a resolved path lies in; null when none.
  const std::string* deepest_allowed(const std::string& resolved) const;

  std::vector<std::string> allowed_;  // resolved
  std::vector<std::string> given_;    // as the operator wrote them, lexically normal
  std::string flag_;
};

}  // namespace cellblock
