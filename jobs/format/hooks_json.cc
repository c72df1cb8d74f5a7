#include "jobs/format/hooks_json.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "jobs/format/job_json.h"
#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

using nlohmann::json;

constexpr size_t kMaxHooksPerStage = 16;
constexpr uint64_t kMaxHookTimeout_ms = 3600 * 1000;
// A hook's environment unless the file gives one: where `ip`, `nsenter` and the shells live.
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Names appear in results and errors: short and plain, as a pod's service names.
bool valid_hook_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

// The executable is the operator's: checked once at start-up, so that a typo fails the start,
// not every job.
void check_executable(const std::string& path, const std::string& field, const std::string& source) {
  if (path.empty() || path[0] != '/') throw FieldError(field, json_quoted(path) + " is not an absolute path", source);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw FieldError(field, json_quoted(path) + ": " + std::strerror(errno), source);
  if (!S_ISREG(st.st_mode)) throw FieldError(field, json_quoted(path) + " is not a regular file", source);
  // access(X_OK) says yes to root for any file with an x bit; none at all is never runnable.
  if ((st.st_mode & 0111) == 0 || ::access(path.c_str(), X_OK) != 0)
    throw FieldError(field, json_quoted(path) + " is not executable", source);
}

Hook read_hook(const json& v, const std::string& path, const std::string& source) {
  try {
    require_object(v, path, {"name", "path", "args", "env", "timeout_ms"});
    Hook h;
    h.path = read_string(require_key(v, path, "path"), path + ".path", false);
    check_executable(h.path, path + ".path", source);
    h.name = v.contains("name") ? read_string(v["name"], path + ".name", false) : h.path.substr(h.path.rfind('/') + 1);
    if (!valid_hook_name(h.name))
      throw FieldError(path + ".name", json_quoted(h.name) + " is not a hook name (1-63 of a-z, A-Z, 0-9, '-', '_', '.')");
    if (v.contains("args")) {
      require_array(v["args"], path + ".args", "strings");
      for (size_t i = 0; i < v["args"].size(); ++i) h.args.push_back(read_string(v["args"][i], index_path(path + ".args", i)));
    }
    if (v.contains("env")) h.env = read_env(v["env"], path + ".env");
    else h.env["PATH"] = kDefaultPath;
    if (v.contains("timeout_ms")) h.timeout_ms = read_uint(v["timeout_ms"], path + ".timeout_ms", 1, kMaxHookTimeout_ms);
    return h;
  } catch (const FieldError& e) {
    if (!e.source().empty() || source.empty()) throw;
    throw FieldError(e.field(), e.reason(), source);
  }
}

std::vector<Hook> read_stage(const json& j, const char* stage, const std::string& source) {
  std::vector<Hook> hooks;
  if (!j.contains(stage)) return hooks;
  const json& list = j[stage];
  try {
    require_array(list, stage, "hooks");
  } catch (const FieldError& e) {
    throw FieldError(e.field(), e.reason(), source);
  }
  if (list.size() > kMaxHooksPerStage)
    throw FieldError(stage, std::to_string(list.size()) + " hooks are too many (at most " +
                                std::to_string(kMaxHooksPerStage) + ")", source);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = index_path(stage, i);
    Hook h = read_hook(list[i], path, source);
    for (const Hook& earlier : hooks)
      if (earlier.name == h.name) throw FieldError(path + ".name", json_quoted(h.name) + " names two hooks", source);
    hooks.push_back(std::move(h));
  }
  return hooks;
}

json run_to_json(const HookRun& r) {
  return {{"name", r.name},
          {"ok", r.ok},
          {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
          {"signal", r.signal ? json(*r.signal) : json(nullptr)},
          {"timed_out", r.timed_out},
          {"timeout_ms", r.timeout_ms},
          {"error", r.error ? json(*r.error) : json(nullptr)},
          {"stderr", r.stderr_data},
          {"stderr_truncated", r.stderr_truncated},
          {"wall_time_ms", r.wall_time_ms}};
}

}  // namespace

HookSet read_hooks(const json& j, const std::string& source) {
  try {
    require_object(j, "", {"prestart", "poststop"});
  } catch (const FieldError& e) {
    throw FieldError(e.field(), e.reason(), source);
  }
  HookSet hooks;
  hooks.prestart = read_stage(j, "prestart", source);
  hooks.poststop = read_stage(j, "poststop", source);
  hooks.encode_input = encode_hook_input;
  return hooks;
}

std::string encode_hook_input(const HookInput& in) {
  json namespaces = json::object();
  for (const auto& [name, path] : in.namespaces) namespaces[name] = path;
  return json{{"stage", in.stage},
              {"id", in.job_id},
              {"pid", in.pid},
              {"namespaces", namespaces},
              {"cgroups", in.cgroups}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

json hook_runs_to_json(const std::vector<HookRun>& runs) {
  json out = json::object();
  for (const HookRun& r : runs) out[r.stage].push_back(run_to_json(r));
  return out;
}

std::vector<HookRun> hook_runs_from_json(const json& j) {
  std::vector<HookRun> runs;
  for (const char* stage : {"prestart", "poststop"}) {
    if (!j.contains(stage)) continue;
    for (const json& v : j[stage]) {
      HookRun& r = runs.emplace_back();
      r.stage = stage;
      r.name = v.at("name").get<std::string>();
      r.ok = v.at("ok").get<bool>();
      if (!v.at("exit_code").is_null()) r.exit_code = v["exit_code"].get<int>();
      if (!v.at("signal").is_null()) r.signal = v["signal"].get<int>();
      r.timed_out = v.at("timed_out").get<bool>();
      r.timeout_ms = v.value("timeout_ms", uint64_t{0});
      if (!v.at("error").is_null()) r.error = v["error"].get<std::string>();
      r.stderr_data = v.at("stderr").get<std::string>();
      r.stderr_truncated = v.at("stderr_truncated").get<bool>();
      r.wall_time_ms = v.at("wall_time_ms").get<double>();
    }
  }
  return runs;
}

}  // namespace cellblock
