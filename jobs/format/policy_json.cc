#include "jobs/format/policy_json.h"

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/security/capabilities.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <system_error>

namespace cellblock {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A whole number >= 0, or a string "0x..." (masks and flag values read better in hex).
uint64_t read_u64(const json& v, const std::string& path, uint64_t max = UINT64_MAX) {
  if (v.is_number()) return read_uint(v, path, 0, max);
  const char* expected = "expected a whole number or a hex string like \"0x7e020000\", got ";
  if (!v.is_string()) throw FieldError(path, expected + describe(v));
  const std::string s = v.get<std::string>();
  bool ok = s.size() > 2 && s.size() <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  for (size_t i = 2; ok && i < s.size(); ++i) ok = std::isxdigit(static_cast<unsigned char>(s[i])) != 0;
  if (!ok) throw FieldError(path, expected + describe(v));
  uint64_t n = std::stoull(s.substr(2), nullptr, 16);
  if (n > max) throw FieldError(path, describe(v) + " is too large (at most " + std::to_string(max) + ")");
  return n;
}

// "EPERM" -> 1, from glibc's own table, so every errno the C library knows can be named.
std::optional<int> errno_from_name(std::string_view name) {
  for (int e = 1; e < 4096; ++e) {
    const char* n = strerrorname_np(e);
    if (n && name == n) return e;
  }
  return std::nullopt;
}

SeccompAction read_action(const json& v, const std::string& path) {
  const std::string s = read_string(v, path);
  if (s == "allow") return {SeccompActionKind::allow, 0};
  if (s == "kill_process") return {SeccompActionKind::kill_process, 0};
  if (s == "kill_thread") return {SeccompActionKind::kill_thread, 0};
  if (s == "trap") return {SeccompActionKind::trap, 0};
  if (s == "log") return {SeccompActionKind::log, 0};
  if (s.rfind("errno:", 0) == 0) {
    auto e = errno_from_name(std::string_view(s).substr(6));
    if (!e) throw FieldError(path, "unknown errno name " + json_quoted(s.substr(6)) + " (write e.g. \"errno:EPERM\")");
    return {SeccompActionKind::errno_code, *e};
  }
  throw FieldError(path, "unknown action " + json_quoted(s) +
                             " (actions: allow, errno:NAME, kill_process, kill_thread, trap, log)");
}

SeccompOp read_op(const json& v, const std::string& path) {
  static const std::pair<std::string_view, SeccompOp> ops[] = {
      {"eq", SeccompOp::eq}, {"ne", SeccompOp::ne}, {"lt", SeccompOp::lt}, {"le", SeccompOp::le},
      {"gt", SeccompOp::gt}, {"ge", SeccompOp::ge}, {"masked_eq", SeccompOp::masked_eq}};
  const std::string s = read_string(v, path);
  for (auto& [name, op] : ops)
    if (s == name) return op;
  throw FieldError(path, "unknown op " + json_quoted(s) + " (ops: eq, ne, lt, le, gt, ge, masked_eq)");
}

SeccompArg read_arg(const json& v, const std::string& path) {
  require_object(v, path, {"index", "op", "value", "mask"});
  SeccompArg arg;
  arg.index = static_cast<unsigned>(read_u64(require_key(v, path, "index"), path + ".index", 5));
  arg.op = read_op(require_key(v, path, "op"), path + ".op");
  arg.value = read_u64(require_key(v, path, "value"), path + ".value");
  if (arg.op == SeccompOp::masked_eq) {
    arg.mask = read_u64(require_key(v, path, "mask"), path + ".mask");
    if ((arg.value & ~arg.mask) != 0)
      throw FieldError(path + ".value", "has bits outside mask, so the rule could never match");
  } else if (v.contains("mask")) {
    throw FieldError(path + ".mask", "only the masked_eq op takes a mask");
  }
  return arg;
}

SeccompRule read_rule(const json& v, const std::string& path) {
  require_object(v, path, {"comment", "names", "action", "args"});
  SeccompRule rule;
  if (v.contains("comment")) rule.comment = read_string(v["comment"], path + ".comment");

  const json& names = require_key(v, path, "names");
  require_array(names, path + ".names", "syscall names");
  if (names.empty()) throw FieldError(path + ".names", "must not be empty");
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string p = index_path(path + ".names", i);
    std::string name = read_string(names[i], p);
    if (!is_known_syscall(name)) throw FieldError(p, "unknown syscall " + json_quoted(name));
    if (!seen.insert(name).second) throw FieldError(p, json_quoted(name) + " is listed twice in this rule");
    rule.names.push_back(std::move(name));
  }

  rule.action = read_action(require_key(v, path, "action"), path + ".action");

  if (v.contains("args")) {
    const json& args = v["args"];
    require_array(args, path + ".args");
    std::set<unsigned> indexes;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string p = index_path(path + ".args", i);
      SeccompArg arg = read_arg(args[i], p);
      if (!indexes.insert(arg.index).second)
        throw FieldError(p + ".index", "argument " + std::to_string(arg.index) +
                                           " is already compared in this rule (libseccomp allows one comparison per argument)");
      rule.args.push_back(arg);
    }
  }
  return rule;
}

SeccompProfile read_seccomp(const json& v) {
  const std::string path = "seccomp";
  require_object(v, path, {"default_action", "syscalls"});
  SeccompProfile profile;
  profile.default_action = read_action(require_key(v, path, "default_action"), path + ".default_action");
  const json& rules = require_key(v, path, "syscalls");
  require_array(rules, path + ".syscalls", "rules");
  for (size_t i = 0; i < rules.size(); ++i) profile.rules.push_back(read_rule(rules[i], index_path(path + ".syscalls", i)));
  // What only the whole profile shows (a syscall with conflicting rules); the same check the
  // compiler makes, here so that validating a file needs no compile.
  try {
    validate_seccomp(profile);
  } catch (const SeccompCompileError& e) {
    std::string field = e.rule() < 0 ? path + ".default_action" : index_path(path + ".syscalls", e.rule());
    if (e.rule() >= 0 && e.name() >= 0) field = index_path(field + ".names", e.name());
    throw FieldError(field, e.what());
  }
  return profile;
}

std::vector<int> read_capabilities(const json& v) {
  const std::string path = "capabilities";
  require_array(v, path, "capability names");
  std::vector<int> caps;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = index_path(path, i);
    const std::string name = read_string(v[i], p);
    auto cap = capability_from_name(name);
    if (!cap) throw FieldError(p, "unknown capability " + json_quoted(name) + " (write e.g. \"CAP_CHOWN\")");
    if (std::find(caps.begin(), caps.end(), *cap) != caps.end()) throw FieldError(p, json_quoted(name) + " is listed twice");
    caps.push_back(*cap);
  }
  return caps;
}

Identity read_user(const json& v) {
  const std::string path = "user";
  require_object(v, path, {"uid", "gid"});
  // (uid_t)-1 means "unchanged" to setresuid; it cannot be an identity.
  Identity id;
  id.uid = static_cast<uint32_t>(read_u64(require_key(v, path, "uid"), path + ".uid", UINT32_MAX - 1));
  id.gid = static_cast<uint32_t>(read_u64(require_key(v, path, "gid"), path + ".gid", UINT32_MAX - 1));
  return id;
}

SecurityPolicy read_policy(const json& j, std::string name) {
  require_object(j, "", {"description", "seccomp", "capabilities", "no_new_privs", "user", "user_namespace"});
  SecurityPolicy policy;
  policy.name = std::move(name);
  if (j.contains("description")) policy.description = read_string(j["description"], "description");
  policy.seccomp = read_seccomp(require_key(j, "", "seccomp"));
  // Required even when empty: a policy says what it keeps; there is no implicit set.
  policy.capabilities = read_capabilities(require_key(j, "", "capabilities"));
  if (j.contains("no_new_privs")) policy.no_new_privs = read_bool(j["no_new_privs"], "no_new_privs");
  if (j.contains("user")) policy.user = read_user(j["user"]);
  if (j.contains("user_namespace")) policy.user_namespace = read_bool(j["user_namespace"], "user_namespace");
  if (!policy.no_new_privs) {
    bool root = !policy.user || policy.user->uid == 0;
    auto sys_admin = capability_from_name("CAP_SYS_ADMIN");
    if (!root || !sys_admin || std::find(policy.capabilities.begin(), policy.capabilities.end(), *sys_admin) == policy.capabilities.end())
      throw FieldError("no_new_privs",
                       "false needs a root command that keeps CAP_SYS_ADMIN: without no_new_privs the kernel "
                       "installs a seccomp filter only for a task with CAP_SYS_ADMIN");
  }
  return policy;
}

std::string read_file(const fs::path& file) {
  try {
    return read_host_file(file.string());
  } catch (const SysError& e) {
    throw FieldError("", std::string("cannot read: ") + std::strerror(e.err()), file.string());
  }
}

bool valid_policy_name(std::string_view name) {
  if (name.empty() || name[0] == '.' || name.size() > 128) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace

SecurityPolicy policy_from_json(const json& j, std::string name, const std::string& source) {
  try {
    return read_policy(j, std::move(name));
  } catch (const FieldError& e) {
    throw FieldError(e.field(), e.reason(), source);
  }
}

SecurityPolicy load_policy_file(const fs::path& file) {
  const std::string text = read_file(file);
  const json j = parse_json_text(text, file.string());
  return policy_from_json(j, file.stem().string(), file.string());
}

std::vector<fs::path> default_policy_dirs() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path dir = exe.parent_path();
    dirs.push_back((dir / ".." / ".." / "policies").lexically_normal());
    dirs.push_back((dir / ".." / "share" / "cellblock" / "policies").lexically_normal());
  }
  dirs.emplace_back("/usr/share/cellblock/policies");
  return dirs;
}

bool is_policy_path(std::string_view ref) noexcept {
  return ref.find('/') != std::string_view::npos ||
         (ref.size() >= 5 && ref.substr(ref.size() - 5) == ".json");
}

PolicyRegistry::PolicyRegistry(std::vector<fs::path> dirs) : dirs_(std::move(dirs)) {}

fs::path PolicyRegistry::resolve(std::string_view ref) const {
  if (is_policy_path(ref)) return fs::path(ref);
  if (!valid_policy_name(ref))
    throw FieldError("policy", json_quoted(ref) + " is not a policy name (letters, digits, '_', '-', '.') or a path");
  for (const fs::path& dir : dirs_) {
    fs::path file = dir / (std::string(ref) + ".json");
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) return file;
  }
  std::string where, names;
  for (const fs::path& dir : dirs_) where += (where.empty() ? "" : ", ") + dir.string();
  for (const std::string& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw FieldError("policy", "no policy named " + json_quoted(ref) + " (looked in " + where + "; available: " +
                                (names.empty() ? "none" : names) + ")");
}

SecurityPolicy PolicyRegistry::load(std::string_view ref) const {
  fs::path file = resolve(ref);
  SecurityPolicy policy = load_policy_file(file);
  if (!is_policy_path(ref)) policy.name = std::string(ref);
  else policy.name = file.string();
  return policy;
}

std::shared_ptr<const CompiledPolicy> PolicyRegistry::get(std::string_view ref) {
  const bool by_name = !is_policy_path(ref);
  if (by_name) {
    std::lock_guard lock(mutex_);
    if (auto it = by_name_.find(ref); it != by_name_.end()) return it->second;
  }
  fs::path file = resolve(ref);
  std::error_code ec;
  fs::path key = fs::weakly_canonical(file, ec);
  if (ec) key = fs::absolute(file).lexically_normal();

  // One lock for lookup and compile: a policy is compiled at its first use only, and two jobs
  // asking for it at once must not compile it twice.
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (by_name) by_name_.emplace(ref, it->second);
    return it->second;
  }
  SecurityPolicy policy = load(ref);
  std::shared_ptr<const CompiledPolicy> compiled;
  try {
    compiled = compile_policy(std::move(policy), seccomp_cache_);
  } catch (const SeccompCompileError& e) {
    std::string field = "seccomp.default_action";
    if (e.rule() >= 0) {
      field = "seccomp.syscalls[" + std::to_string(e.rule()) + "]";
      if (e.name() >= 0) field += ".names[" + std::to_string(e.name()) + "]";
    }
    throw FieldError(field, e.what(), file.string());
  } catch (const std::system_error& e) {
    throw FieldError("seccomp", std::string("cannot compile: ") + e.what(), file.string());
  } catch (const std::exception& e) {
    throw FieldError("", std::string("cannot compile: ") + e.what(), file.string());
  }
  cache_.emplace(key, compiled);
  if (by_name) by_name_.emplace(ref, compiled);
  return compiled;
}

std::vector<std::string> PolicyRegistry::available() const {
  std::set<std::string> names;
  for (const fs::path& dir : dirs_) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".json" && it->is_regular_file(ec)) names.insert(it->path().stem().string());
  }
  return {names.begin(), names.end()};
}

size_t PolicyRegistry::cached() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

}  // namespace cellblock
