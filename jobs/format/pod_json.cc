#include "jobs/format/pod_json.h"

#include "jobs/format/job_json.h"
#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

using nlohmann::json;

constexpr size_t kMaxServices = 16;
constexpr uint64_t kMaxReadyTimeout_ms = 3600 * 1000;

// Names appear in results as object keys and in error messages: short and plain.
bool valid_service_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

void read_ready(const json& v, const std::string& path, PodService& s) {
  require_object(v, path, {"tcp", "timeout_ms"});
  s.ready_tcp_port = static_cast<uint16_t>(read_uint(require_key(v, path, "tcp"), path + ".tcp", 1, 65535));
  if (v.contains("timeout_ms")) s.ready_timeout_ms = read_uint(v["timeout_ms"], path + ".timeout_ms", 1, kMaxReadyTimeout_ms);
}

PodService read_service(const json& v, const std::string& path, const JobSpec& job) {
  require_object(v, path, {"name", "command", "rootfs", "env", "limits", "ready"});
  PodService s;
  s.name = read_string(require_key(v, path, "name"), path + ".name", false);
  if (!valid_service_name(s.name))
    throw FieldError(path + ".name", describe(v["name"]) + " is not a service name (1-63 of a-z, 0-9, '-', '_')");
  const json& cmd = require_key(v, path, "command");
  require_array(cmd, path + ".command", "strings");
  if (cmd.empty()) throw FieldError(path + ".command", "must not be empty");
  for (size_t i = 0; i < cmd.size(); ++i) s.command.push_back(read_string(cmd[i], index_path(path + ".command", i), i != 0));
  if (v.contains("rootfs")) s.rootfs = read_string(v["rootfs"], path + ".rootfs", false);
  if (v.contains("env")) s.env = read_env(v["env"], path + ".env");
  if (v.contains("ready")) read_ready(v["ready"], path + ".ready", s);
  s.limits = Limits{};
  s.limits.wall_time_ms = job.limits.wall_time_ms + (s.ready_tcp_port ? s.ready_timeout_ms : 0);
  if (v.contains("limits")) read_limits(v["limits"], s.limits, path + ".limits");
  return s;
}

}  // namespace

void read_pod(const json& pod, const JobSpec& job, std::vector<PodService>& out) {
  require_object(pod, "pod", {"services"});
  const json& services = require_key(pod, "pod", "services");
  require_array(services, "pod.services", "services");
  if (services.empty()) throw FieldError("pod.services", "must not be empty (leave \"pod\" out for a job alone)");
  if (services.size() > kMaxServices)
    throw FieldError("pod.services", std::to_string(services.size()) + " services are too many (at most " +
                                         std::to_string(kMaxServices) + ")");
  out.clear();
  for (size_t i = 0; i < services.size(); ++i) {
    const std::string path = index_path("pod.services", i);
    PodService s = read_service(services[i], path, job);
    for (const PodService& earlier : out)
      if (earlier.name == s.name) throw FieldError(path + ".name", json_quoted(s.name) + " names two services");
    out.push_back(std::move(s));
  }
}

json pod_to_json(const std::vector<PodService>& services) {
  json list = json::array();
  for (const PodService& s : services) {
    json j = {{"name", s.name}, {"command", s.command}, {"limits", limits_to_json(s.limits)}};
    if (!s.rootfs.empty()) j["rootfs"] = s.rootfs;
    if (s.env) j["env"] = *s.env;
    if (s.ready_tcp_port) j["ready"] = {{"tcp", s.ready_tcp_port}, {"timeout_ms", s.ready_timeout_ms}};
    list.push_back(std::move(j));
  }
  return {{"services", list}};
}

}  // namespace cellblock
