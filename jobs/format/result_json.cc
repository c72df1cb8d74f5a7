#include "jobs/format/result_json.h"

#include "jobs/format/file_content.h"
#include "jobs/format/hooks_json.h"
#include "jobs/format/json_reader.h"

namespace cellblock {

using nlohmann::json;

namespace {

// FileRead::Outcome as the result names it.
constexpr std::pair<FileRead::Outcome, const char*> kReasons[] = {
    {FileRead::missing, "missing"}, {FileRead::not_regular, "not_regular"},
    {FileRead::too_large, "too_large"}, {FileRead::failed, "failed"}};

// "collected": {"/w/out.xml": {"content": ...} | {"base64": ...} | {"file_id": ..., "bytes": N} |
//               {"error": ..., "reason": ...}}
json collected_to_json(const std::vector<CollectedFile>& files) {
  json out = json::object();
  for (const CollectedFile& f : files) {
    if (!f.file_id.empty()) {
      out[f.path] = {{"file_id", f.file_id}, {"bytes", f.file_bytes}};
      continue;
    }
    if (f.read.outcome == FileRead::ok) {
      out[f.path] = content_to_json(f.read.content);
      continue;
    }
    const char* reason = "failed";
    for (auto [outcome, name] : kReasons)
      if (outcome == f.read.outcome) reason = name;
    out[f.path] = {{"error", f.read.message}, {"reason", reason}};
  }
  return out;
}

std::vector<CollectedFile> collected_from_json(const json& j) {
  std::vector<CollectedFile> files;
  for (auto it = j.begin(); it != j.end(); ++it) {
    CollectedFile& f = files.emplace_back();
    f.path = it.key();
    const std::string field = "collected." + json_quoted(it.key());
    if (it->contains("file_id")) {
      f.read.outcome = FileRead::ok;
      f.file_id = it->at("file_id").get<std::string>();
      f.file_bytes = it->at("bytes").get<uint64_t>();
    } else if (it->contains("content")) {
      f.read.outcome = FileRead::ok;
      f.read.content = it->at("content").get<std::string>();
    } else if (it->contains("base64")) {
      f.read.outcome = FileRead::ok;
      f.read.content = decode_base64(it->at("base64").get<std::string>(), field + ".base64");
    } else {
      f.read.message = it->at("error").get<std::string>();
      const std::string reason = it->at("reason").get<std::string>();
      for (auto [outcome, name] : kReasons)
        if (reason == name) f.read.outcome = outcome;
    }
  }
  return files;
}

}  // namespace

json result_to_json(const Result& r) {
  const Stats& s = r.stats;
  json stats = {
      {"wall_time_ms", s.wall_time_ms},       {"cpu_time_ms", s.cpu_time_ms},
      {"cpu_user_ms", s.cpu_user_ms},         {"cpu_system_ms", s.cpu_system_ms},
      {"setup_cpu_ms", s.setup_cpu_ms},
      {"memory_peak_bytes", s.memory_peak_bytes}, {"oom_kills", s.oom_kills},
      {"pids_peak", s.pids_peak},             {"io_read_bytes", s.io_read_bytes},
      {"io_write_bytes", s.io_write_bytes},   {"cgroup_version", s.cgroup_version},
  };
  json j;
  j["id"] = r.id;
  j["status"] = std::string(to_string(r.status));
  j["exit_code"] = r.exit_code ? json(*r.exit_code) : json(nullptr);
  j["signal"] = r.signal ? json(*r.signal) : json(nullptr);
  j["error"] = r.error ? json(*r.error) : json(nullptr);
  j["stdout"] = r.stdout_data;
  j["stderr"] = r.stderr_data;
  j["stdout_truncated"] = r.stdout_truncated;
  j["stderr_truncated"] = r.stderr_truncated;
  if (!r.collected.empty()) j["collected"] = collected_to_json(r.collected);
  j["stats"] = stats;
  if (!r.breakdown.empty()) {
    // An array, not an object: the steps keep their launch order.
    json steps = json::array();
    for (const StepTime& s : r.breakdown) steps.push_back({{"step", s.step}, {"ms", s.ms}});
    j["breakdown"] = steps;
  }
  // A pod's services by name, each a whole result of its own.
  if (!r.services.empty()) {
    json services = json::object();
    for (const ServiceResult& service : r.services) services[service.name] = result_to_json(service.result);
    j["services"] = std::move(services);
  }
  if (!r.hooks.empty()) j["hooks"] = hook_runs_to_json(r.hooks);
  return j;
}

Result result_from_json(const json& j) {
  Result r;
  r.id = j.value("id", "");
  auto status = status_from_string(j.at("status").get<std::string>());
  if (!status) throw FieldError("status", "unknown status " + describe(j.at("status")));
  r.status = *status;
  if (!j.at("exit_code").is_null()) r.exit_code = j.at("exit_code").get<int>();
  if (!j.at("signal").is_null()) r.signal = j.at("signal").get<int>();
  if (!j.at("error").is_null()) r.error = j.at("error").get<std::string>();
  r.stdout_data = j.at("stdout").get<std::string>();
  r.stderr_data = j.at("stderr").get<std::string>();
  r.stdout_truncated = j.at("stdout_truncated").get<bool>();
  r.stderr_truncated = j.at("stderr_truncated").get<bool>();
  if (j.contains("collected")) r.collected = collected_from_json(j["collected"]);
  const json& s = j.at("stats");
  r.stats.wall_time_ms = s.at("wall_time_ms").get<double>();
  r.stats.cpu_time_ms = s.at("cpu_time_ms").get<double>();
  r.stats.cpu_user_ms = s.at("cpu_user_ms").get<double>();
  r.stats.cpu_system_ms = s.at("cpu_system_ms").get<double>();
  r.stats.setup_cpu_ms = s.value("setup_cpu_ms", 0.0);
  r.stats.memory_peak_bytes = s.at("memory_peak_bytes").get<uint64_t>();
  r.stats.oom_kills = s.at("oom_kills").get<uint64_t>();
  r.stats.pids_peak = s.at("pids_peak").get<uint64_t>();
  r.stats.io_read_bytes = s.at("io_read_bytes").get<uint64_t>();
  r.stats.io_write_bytes = s.at("io_write_bytes").get<uint64_t>();
  r.stats.cgroup_version = s.at("cgroup_version").get<int>();
  if (j.contains("services"))
    for (auto it = j["services"].begin(); it != j["services"].end(); ++it)
      r.services.push_back({it.key(), result_from_json(*it)});
  if (j.contains("hooks")) r.hooks = hook_runs_from_json(j["hooks"]);
  return r;
}

std::string dump_json(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace cellblock
