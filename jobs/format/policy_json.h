// Security policies as data: policies/NAME.json -> SecurityPolicy -> CompiledPolicy.
// The format is in docs/policies.md. Parsing is strict (json_reader.h): unknown keys, unknown
// syscall and capability names and wrong types are FieldErrors that name the file, the field
// and the value:
//   policies/default.json: seccomp.syscalls[3].names[2]: unknown syscall "mountt"
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "executor/security/compiled_policy.h"
#include "jobs/format/json_reader.h"

namespace cellblock {

// Parses one policy object. `name` becomes SecurityPolicy::name; `source` prefixes errors.
SecurityPolicy policy_from_json(const nlohmann::json& j, std::string name, const std::string& source = "");
// Reads and parses a policy file; the policy is named after the file's stem.
SecurityPolicy load_policy_file(const std::filesystem::path& file);

// Where `cellblock` looks for policies by name, in order: <exe dir>/../../policies (the source
// tree, for a binary in build/<dir>/), <exe dir>/../share/cellblock/policies and
// /usr/share/cellblock/policies (installed). Missing directories are skipped at lookup.
std::vector<std::filesystem::path> default_policy_dirs();

// A job's "policy" value names a file when it contains a '/' or ends in ".json"; otherwise it is
// a policy name, looked up as NAME.json in the policy directories.
bool is_policy_path(std::string_view ref) noexcept;

// Loads and compiles each policy once and hands out the same CompiledPolicy to every job that
// uses it (compiling costs milliseconds, applying microseconds). Thread-safe. A file edited while
// the process runs is not reloaded: restart to change the policy of a running server. Failed
// loads are not cached, so a fixed file is picked up on the next request.
class PolicyRegistry {
 public:
  explicit PolicyRegistry(std::vector<std::filesystem::path> dirs = default_policy_dirs());

  // The file a reference means. Throws FieldError (field "policy") for an unknown name, listing
  // the names that exist.
  std::filesystem::path resolve(std::string_view ref) const;
  // Parses without compiling or caching (validation, `cellblock policy check`).
  SecurityPolicy load(std::string_view ref) const;
  // Parsed and compiled, from the cache after the first time: a name keeps meaning the file it
  // first resolved to, for the life of the registry.
  std::shared_ptr<const CompiledPolicy> get(std::string_view ref);

  // Keep compiled seccomp programs in `dir` for the next process too (seccomp_cache.h): for
  // short-lived front ends like `cellblock run`, which would otherwise compile on every job.
  void cache_compiled_filters_in(const std::filesystem::path& dir) { seccomp_cache_ = dir.string(); }

  // Policy names found in the directories, sorted.
  std::vector<std::string> available() const;
  const std::vector<std::filesystem::path>& dirs() const noexcept { return dirs_; }
  size_t cached() const;

 private:
  std::vector<std::filesystem::path> dirs_;
  std::optional<std::string> seccomp_cache_;
  mutable std::mutex mutex_;
  std::map<std::filesystem::path, std::shared_ptr<const CompiledPolicy>> cache_;  // by canonical path
  // By name too ("default"): a job names its policy, and finding the name's file again costs a
  // stat of each directory and a readlink of each part of the path, per job.
  std::map<std::string, std::shared_ptr<const CompiledPolicy>, std::less<>> by_name_;
};

}  // namespace cellblock
