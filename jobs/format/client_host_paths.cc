#include "jobs/format/client_host_paths.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

std::string lexical(const std::string& path) {
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

}  // namespace

ClientHostPaths::ClientHostPaths(const std::vector<std::string>& allowed, const std::string& flag) : flag_(flag) {
  for (const std::string& dir : allowed) {
    std::string resolved, why;
    if (dir.empty() || dir[0] != '/') throw FieldError(flag, json_quoted(dir) + ": give an absolute path");
    if (!resolve(dir, resolved, why)) throw FieldError(flag, json_quoted(dir) + ": " + why);
    given_.push_back(lexical(dir));
    allowed_.push_back(resolved);
  }
}

const std::string* ClientHostPaths::deepest_allowed(const std::string& resolved) const {
  const std::string* within = nullptr;
  for (const std::string& dir : allowed_)
    if (is_in(resolved, dir) && (!within || dir.size() > within->size())) within = &dir;
  return within;
}

std::string ClientHostPaths::where() const {
  return "; a client's job may name host paths only in " +
         (allowed_.empty() ? std::string("no directory") : json_quoted(allowed_.front()) + (allowed_.size() > 1 ? " and others" : "")) +
         " (the operator's " + flag_ + ")";
}

void ClientHostPaths::check_value(const nlohmann::json& value, const std::string& field) const {
  if (value.is_string()) check_path(value.get<std::string>(), field);  // else the job's reader names the wrong type
}

void ClientHostPaths::check_path(const std::string& path, const std::string& field) const {
  if (path.empty() || path[0] != '/') throw FieldError(field, json_quoted(path) + " is not an absolute host path" + where());
  // First by its text alone: a path outside every allowed directory is refused without a look at
  // the host, so that the answer tells a client nothing of what exists there.
  const std::string normal = lexical(path);
  bool inside = false;
  for (size_t i = 0; i < allowed_.size() && !inside; ++i) inside = is_in(normal, given_[i]) || is_in(normal, allowed_[i]);
  if (!inside) throw FieldError(field, json_quoted(path) + " is outside the directories a client's job may name" + where());
  // Then as the host resolves it: a symlink in an allowed directory must not lead out of it.
  std::string resolved, why;
  if (!resolve(path, resolved, why)) throw FieldError(field, json_quoted(path) + ": " + why + where());
  if (deepest_allowed(resolved)) return;
  throw FieldError(field, json_quoted(path) + " leads out of the directories a client's job may name (through a symlink)" + where());
}

UniqueFd ClientHostPaths::open_file(const std::string& path, std::string& why) const {
  why.clear();
  // O_PATH first: opening a device or a FIFO for reading would run its driver (a tty could
  // become the service's terminal) or block; only a regular file is opened for reading.
  UniqueFd at(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!at) {
    why = std::strerror(errno);
    return {};
  }
  struct stat st{};
  if (::fstat(at.get(), &st) != 0) {
    why = std::strerror(errno);
    return {};
  }
  if (S_ISLNK(st.st_mode)) why = "is a symlink";
  else if (!S_ISREG(st.st_mode)) why = "is not a regular file";
  // The service reads as root; a client gets only what every user of the host may read, as a
  // cell's unprivileged user would through a read-only mount of the same directory.
  else if ((st.st_mode & S_IROTH) == 0) why = "is not readable by every user of the host";
  if (!why.empty()) return {};
  const std::string self = "/proc/self/fd/" + std::to_string(at.get());
  std::string real;
  if (!resolve(self, real, why)) return {};
  const std::string* within = deepest_allowed(real);
  if (!within) {
    why = "leads out of the directories a client's job may name";
    return {};
  }
  // And every directory on the way from there must let every user through, as a cell's user
  // would need to: a 0644 file in a 0700 home directory of a rootfs is not for clients.
  for (size_t end = within->size(); end != std::string::npos; end = real.find('/', end + 1)) {
    const std::string dir = end == 0 ? "/" : real.substr(0, end);
    struct stat d{};
    if (::stat(dir.c_str(), &d) != 0 || (d.st_mode & S_IXOTH) == 0) {
      why = "is in a directory not every user of the host may enter (" + json_quoted(dir) + ")";
      return {};
    }
  }
  UniqueFd fd(::open(self.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC));  // the same file, for reading
  if (!fd) why = std::strerror(errno);
  return fd;
}

nlohmann::json ClientHostPaths::named_fields(const nlohmann::json& job) {
  nlohmann::json out = nlohmann::json::object();
  if (!job.is_object()) return out;
  for (const char* key : {"rootfs", "mounts", "policy", "pod"})
    if (job.contains(key)) out[key] = job[key];
  return out;
}

void ClientHostPaths::check(const nlohmann::json& job) const {
  if (!job.is_object()) return;
  if (job.contains("rootfs")) check_value(job["rootfs"], "rootfs");
  if (job.contains("mounts") && job["mounts"].is_array())
    for (size_t i = 0; i < job["mounts"].size(); ++i) {
      const auto& m = job["mounts"][i];
      if (!m.is_object()) continue;
      const std::string at = "mounts[" + std::to_string(i) + "]";
      if (m.contains("source")) check_value(m["source"], at + ".source");
      // Read-only, always: a job that could write in an allowed directory could leave a symlink
      // there that a later job's path follows, or change a tree other jobs run in.
      if (m.contains("readonly") && m["readonly"] == false)
        throw FieldError(at + ".readonly", "a client's job may not bind a host directory writable; write into the cell "
                                           "and take the files back with \"collect\"");
  }
  // A policy file could grant any capability and turn seccomp off: the operator's only.
  if (job.contains("policy") && job["policy"].is_string() && is_policy_path(job["policy"].get<std::string>()))
    throw FieldError("policy", json_quoted(job["policy"].get<std::string>()) +
                                   " is a file; a client's job names a policy by its name (policy files are the "
                                   "operator's, in a policy directory: docs/policies.md)");
  if (job.contains("pod") && job["pod"].is_object() && job["pod"].contains("services") && job["pod"]["services"].is_array())
    for (size_t i = 0; i < job["pod"]["services"].size(); ++i)
      if (const auto& s = job["pod"]["services"][i]; s.is_object() && s.contains("rootfs"))
        check_value(s["rootfs"], "pod.services[" + std::to_string(i) + "].rootfs");
}

}  // namespace cellblock
