#include "jobs/format/client_host_paths.h"

#include <limits.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "jobs/format/json_reader.h"
#include "jobs/format/policy_json.h"

namespace cellblock {
namespace {

// The path with every symlink, "." and ".." resolved, or the reason there is none.
bool resolve(const std::string& path, std::string& resolved, std::string& why) {
  std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), &::free);
  if (!real) {
    why = std::strerror(errno);
    return false;
  }
  resolved = real.get();
  return true;
}

bool is_in(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

ClientHostPaths::ClientHostPaths(const std::vector<std::string>& allowed, const std::string& flag) : flag_(flag) {
  for (const std::string& dir : allowed) {
    std::string resolved, why;
    if (dir.empty() || dir[0] != '/') throw FieldError(flag, json_quoted(dir) + ": give an absolute path");
    if (!resolve(dir, resolved, why)) throw FieldError(flag, json_quoted(dir) + ": " + why);
    allowed_.push_back(resolved);
  }
}

void ClientHostPaths::check_path(const nlohmann::json& value, const std::string& field) const {
  if (!value.is_string()) return;  // the job's reader names the wrong type
  const std::string path = value.get<std::string>();
  const std::string how = "; the service's operator allows host paths only in " +
                          (allowed_.empty() ? std::string("no directory") : json_quoted(allowed_.front()) +
                                                                                (allowed_.size() > 1 ? " and others" : "")) +
                          " (" + flag_ + ")";
  if (path.empty() || path[0] != '/')
    throw FieldError(field, json_quoted(path) + " is not an absolute host path" + how);
  std::string resolved, why;
  if (!resolve(path, resolved, why)) throw FieldError(field, json_quoted(path) + ": " + why + how);
  for (const std::string& dir : allowed_)
    if (is_in(resolved, dir)) return;
  throw FieldError(field, json_quoted(path) + (resolved == path ? "" : " (" + json_quoted(resolved) + ")") +
                              " is outside the directories a client's job may name" + how);
}

void ClientHostPaths::check(const nlohmann::json& job) const {
  if (!job.is_object()) return;
  if (job.contains("rootfs")) check_path(job["rootfs"], "rootfs");
  if (job.contains("mounts") && job["mounts"].is_array())
    for (size_t i = 0; i < job["mounts"].size(); ++i)
      if (const auto& m = job["mounts"][i]; m.is_object() && m.contains("source"))
        check_path(m["source"], "mounts[" + std::to_string(i) + "].source");
  if (job.contains("policy") && job["policy"].is_string() && is_policy_path(job["policy"].get<std::string>()))
    check_path(job["policy"], "policy");
  if (job.contains("pod") && job["pod"].is_object() && job["pod"].contains("services") && job["pod"]["services"].is_array())
    for (size_t i = 0; i < job["pod"]["services"].size(); ++i)
      if (const auto& s = job["pod"]["services"][i]; s.is_object() && s.contains("rootfs"))
        check_path(s["rootfs"], "pod.services[" + std::to_string(i) + "].rootfs");
}

}  // namespace cellblock
