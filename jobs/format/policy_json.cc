#include "jobs/format/policy_json.h"

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

namespace cellblock {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string join_error(const std::string& source, const std::string& field, const std::string& reason) {
  std::string out;
  if (!source.empty()) out += source + ": ";
  if (!field.empty()) out += field + ": ";
  return out + reason;
}

}  // namespace

PolicyError::PolicyError(std::string source, std::string field, std::string reason)
    : std::runtime_error(join_error(source, field, reason)),
      source_(std::move(source)),
      field_(std::move(field)),
      reason_(std::move(reason)) {}

namespace {

// Field errors while parsing; policy_from_json adds the source.
struct FieldError {
  std::string field;
  std::string reason;
};

std::string describe(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string quote(std::string_view s) { return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace); }

std::string index_path(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

void require_object(const json& j, const std::string& path) {
  if (!j.is_object()) throw FieldError{path, "expected an object, got " + describe(j)};
}

// Unknown keys are errors naming the key: a typo must never silently mean "default".
void reject_unknown_keys(const json& j, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw FieldError{path.empty() ? it.key() : path + "." + it.key(), "unknown key (known keys: " + list + ")"};
  }
}

const json& require_key(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key)) throw FieldError{path.empty() ? key : path + "." + key, "is required"};
  return j[key];
}

std::string read_string(const json& v, const std::string& path) {
  if (!v.is_string()) throw FieldError{path, "expected a string, got " + describe(v)};
  return v.get<std::string>();
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) throw FieldError{path, "expected true or false, got " + describe(v)};
  return v.get<bool>();
}

// A whole number >= 0, or a string "0x..." (masks and flag values read better in hex).
uint64_t read_u64(const json& v, const std::string& path, uint64_t max = UINT64_MAX) {
  uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) throw FieldError{path, "must not be negative, got " + describe(v)};
    n = static_cast<uint64_t>(v.get<int64_t>());
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    bool ok = s.size() > 2 && s.size() <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    for (size_t i = 2; ok && i < s.size(); ++i) ok = std::isxdigit(static_cast<unsigned char>(s[i])) != 0;
    if (!ok) throw FieldError{path, "expected a whole number or a hex string like \"0x7e020000\", got " + describe(v)};
    n = std::stoull(s.substr(2), nullptr, 16);
  } else {
    throw FieldError{path, "expected a whole number or a hex string like \"0x7e020000\", got " + describe(v)};
  }
  if (n > max) throw FieldError{path, describe(v) + " is too large (at most " + std::to_string(max) + ")"};
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
    if (!e) throw FieldError{path, "unknown errno name " + quote(s.substr(6)) + " (write e.g. \"errno:EPERM\")"};
    return {SeccompActionKind::errno_code, *e};
  }
  throw FieldError{path, "unknown action " + quote(s) +
                             " (actions: allow, errno:NAME, kill_process, kill_thread, trap, log)"};
}

SeccompOp read_op(const json& v, const std::string& path) {
  static const std::pair<std::string_view, SeccompOp> ops[] = {
      {"eq", SeccompOp::eq}, {"ne", SeccompOp::ne}, {"lt", SeccompOp::lt}, {"le", SeccompOp::le},
      {"gt", SeccompOp::gt}, {"ge", SeccompOp::ge}, {"masked_eq", SeccompOp::masked_eq}};
  const std::string s = read_string(v, path);
  for (auto& [name, op] : ops)
    if (s == name) return op;
  throw FieldError{path, "unknown op " + quote(s) + " (ops: eq, ne, lt, le, gt, ge, masked_eq)"};
}

SeccompArg read_arg(const json& v, const std::string& path) {
  require_object(v, path);
  reject_unknown_keys(v, path, {"index", "op", "value", "mask"});
  SeccompArg arg;
  arg.index = static_cast<unsigned>(read_u64(require_key(v, path, "index"), path + ".index", 5));
  arg.op = read_op(require_key(v, path, "op"), path + ".op");
  arg.value = read_u64(require_key(v, path, "value"), path + ".value");
  if (arg.op == SeccompOp::masked_eq) {
    arg.mask = read_u64(require_key(v, path, "mask"), path + ".mask");
    if ((arg.value & ~arg.mask) != 0)
      throw FieldError{path + ".value", "has bits outside mask, so the rule could never match"};
  } else if (v.contains("mask")) {
    throw FieldError{path + ".mask", "only the masked_eq op takes a mask"};
  }
  return arg;
}

SeccompRule read_rule(const json& v, const std::string& path) {
  require_object(v, path);
  reject_unknown_keys(v, path, {"comment", "names", "action", "args"});
  SeccompRule rule;
  if (v.contains("comment")) rule.comment = read_string(v["comment"], path + ".comment");

  const json& names = require_key(v, path, "names");
  if (!names.is_array()) throw FieldError{path + ".names", "expected an array of syscall names, got " + describe(names)};
  if (names.empty()) throw FieldError{path + ".names", "must not be empty"};
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string p = index_path(path + ".names", i);
    std::string name = read_string(names[i], p);
    if (!is_known_syscall(name)) throw FieldError{p, "unknown syscall " + quote(name)};
    if (!seen.insert(name).second) throw FieldError{p, quote(name) + " is listed twice in this rule"};
    rule.names.push_back(std::move(name));
  }

  rule.action = read_action(require_key(v, path, "action"), path + ".action");

  if (v.contains("args")) {
    const json& args = v["args"];
    if (!args.is_array()) throw FieldError{path + ".args", "expected an array, got " + describe(args)};
    std::set<unsigned> indexes;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string p = index_path(path + ".args", i);
      SeccompArg arg = read_arg(args[i], p);
      if (!indexes.insert(arg.index).second)
        throw FieldError{p + ".index", "argument " + std::to_string(arg.index) +
                                           " is already compared in this rule (libseccomp allows one comparison per argument)"};
      rule.args.push_back(arg);
    }
  }
  return rule;
}

SeccompProfile read_seccomp(const json& v) {
  const std::string path = "seccomp";
  require_object(v, path);
  reject_unknown_keys(v, path, {"default_action", "syscalls"});
  SeccompProfile profile;
  profile.default_action = read_action(require_key(v, path, "default_action"), path + ".default_action");
  const json& rules = require_key(v, path, "syscalls");
  if (!rules.is_array()) throw FieldError{path + ".syscalls", "expected an array of rules, got " + describe(rules)};
  for (size_t i = 0; i < rules.size(); ++i) profile.rules.push_back(read_rule(rules[i], index_path(path + ".syscalls", i)));
  // What only the whole profile shows (a syscall with conflicting rules); the same check the
  // compiler makes, here so that validating a file needs no compile.
  try {
    validate_seccomp(profile);
  } catch (const SeccompCompileError& e) {
    std::string field = e.rule() < 0 ? path + ".default_action" : index_path(path + ".syscalls", e.rule());
    if (e.rule() >= 0 && e.name() >= 0) field = index_path(field + ".names", e.name());
    throw FieldError{field, e.what()};
  }
  return profile;
}

std::vector<int> read_capabilities(const json& v) {
  const std::string path = "capabilities";
  if (!v.is_array()) throw FieldError{path, "expected an array of capability names, got " + describe(v)};
  std::vector<int> caps;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = index_path(path, i);
    const std::string name = read_string(v[i], p);
    auto cap = capability_from_name(name);
    if (!cap) throw FieldError{p, "unknown capability " + quote(name) + " (write e.g. \"CAP_CHOWN\")"};
    if (std::find(caps.begin(), caps.end(), *cap) != caps.end()) throw FieldError{p, quote(name) + " is listed twice"};
    caps.push_back(*cap);
  }
  return caps;
}

Identity read_user(const json& v) {
  const std::string path = "user";
  require_object(v, path);
  reject_unknown_keys(v, path, {"uid", "gid"});
  // (uid_t)-1 means "unchanged" to setresuid; it cannot be an identity.
  Identity id;
  id.uid = static_cast<uint32_t>(read_u64(require_key(v, path, "uid"), path + ".uid", UINT32_MAX - 1));
  id.gid = static_cast<uint32_t>(read_u64(require_key(v, path, "gid"), path + ".gid", UINT32_MAX - 1));
  return id;
}

SecurityPolicy read_policy(const json& j, std::string name) {
  require_object(j, "");
  reject_unknown_keys(j, "", {"description", "seccomp", "capabilities", "no_new_privs", "user", "user_namespace"});
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
      throw FieldError{"no_new_privs",
                       "false needs a root payload that keeps CAP_SYS_ADMIN: without no_new_privs the kernel "
                       "installs a seccomp filter only for a task with CAP_SYS_ADMIN"};
  }
  return policy;
}

std::string read_file(const fs::path& file) {
  try {
    return read_host_file(file.string());
  } catch (const SysError& e) {
    throw PolicyError(file.string(), "", std::string("cannot read: ") + std::strerror(e.err()));
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
    throw PolicyError(source, e.field, e.reason);
  }
}

SecurityPolicy load_policy_file(const fs::path& file) {
  const std::string text = read_file(file);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string msg = e.what();
    auto pos = msg.find("] ");
    throw PolicyError(file.string(), "", "invalid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos + 2)));
  }
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
    throw PolicyError("", "policy", quote(ref) + " is not a policy name (letters, digits, '_', '-', '.') or a path");
  for (const fs::path& dir : dirs_) {
    fs::path file = dir / (std::string(ref) + ".json");
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) return file;
  }
  std::string where, names;
  for (const fs::path& dir : dirs_) where += (where.empty() ? "" : ", ") + dir.string();
  for (const std::string& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw PolicyError("", "policy", "no policy named " + quote(ref) + " (looked in " + where + "; available: " +
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
  fs::path file = resolve(ref);
  std::error_code ec;
  fs::path key = fs::weakly_canonical(file, ec);
  if (ec) key = fs::absolute(file).lexically_normal();

  // One lock for lookup and compile: a policy is compiled at its first use only, and two jobs
  // asking for it at once must not compile it twice.
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
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
    throw PolicyError(file.string(), field, e.what());
  } catch (const std::system_error& e) {
    throw PolicyError(file.string(), "seccomp", std::string("cannot compile: ") + e.what());
  } catch (const std::exception& e) {
    throw PolicyError(file.string(), "", std::string("cannot compile: ") + e.what());
  }
  cache_.emplace(key, compiled);
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
