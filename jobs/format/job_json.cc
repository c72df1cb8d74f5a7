#include "jobs/format/job_json.h"

#include "executor/block_device.h"
#include "executor/base/sys_error.h"
#include "jobs/format/policy_json.h"

#include <cmath>
#include <initializer_list>
#include <limits>

namespace cellblock {
namespace {

using nlohmann::json;

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string describe(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

void require_object(const json& j, const std::string& path) {
  if (!j.is_object()) throw JobError(path, "expected an object, got " + describe(j));
}

// Unknown keys are an error naming the key, so a typo ("wall_time") never silently means "default".
void reject_unknown_keys(const json& j, const std::string& path,
                         std::initializer_list<std::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || it.key() == k;
    if (!ok) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw JobError(join_path(path, it.key()), "unknown key (known keys: " + list + ")");
    }
  }
}

std::string read_string(const json& v, const std::string& path, bool allow_empty = true) {
  if (!v.is_string()) throw JobError(path, "expected a string, got " + describe(v));
  auto s = v.get<std::string>();
  if (s.find('\0') != std::string::npos) throw JobError(path, "must not contain a NUL character");
  if (!allow_empty && s.empty()) throw JobError(path, "must not be empty");
  return s;
}

uint64_t read_uint(const json& v, const std::string& path, uint64_t min, uint64_t max,
                   std::string_view why_min = {}) {
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    throw JobError(path, "expected a whole number, got " + describe(v));
  if (v.is_number_float() ? v.get<double>() < 0 : (v.is_number_unsigned() ? false : v.get<int64_t>() < 0))
    throw JobError(path, "must not be negative, got " + describe(v));
  double as_double = v.get<double>();
  if (as_double > static_cast<double>(max))
    throw JobError(path, describe(v) + " is too large (at most " + std::to_string(max) + ")");
  uint64_t n = v.is_number_float() ? static_cast<uint64_t>(as_double) : v.get<uint64_t>();
  if (n > max) throw JobError(path, describe(v) + " is too large (at most " + std::to_string(max) + ")");
  if (n < min) {
    std::string reason = describe(v) + " is too small (at least " + std::to_string(min);
    if (!why_min.empty()) reason += ": " + std::string(why_min);
    throw JobError(path, reason + ")");
  }
  return n;
}

double read_double(const json& v, const std::string& path, double min, double max) {
  if (!v.is_number()) throw JobError(path, "expected a number, got " + describe(v));
  double d = v.get<double>();
  if (!(d >= min && d <= max))
    throw JobError(path, describe(v) + " is out of range (" + std::to_string(min) + " to " +
                             std::to_string(max) + ")");
  return d;
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) throw JobError(path, "expected true or false, got " + describe(v));
  return v.get<bool>();
}

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB, kTiB = 1024 * kGiB;
constexpr uint64_t kDay_ms = 24ull * 3600 * 1000;

void read_io_limits(const json& v, const std::string& path, std::vector<IoLimit>& out) {
  if (!v.is_array()) throw JobError(path, "expected an array, got " + describe(v));
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    const json& e = v[i];
    require_object(e, p);
    reject_unknown_keys(e, p, {"device", "read_bps", "write_bps", "read_iops", "write_iops"});
    IoLimit io;
    if (!e.contains("device")) throw JobError(p + ".device", "is required");
    io.device = read_string(e["device"], p + ".device", false);
    // Throttles below these would stall any real program; they are typos, not limits.
    if (e.contains("read_bps")) io.read_bps = read_uint(e["read_bps"], p + ".read_bps", 4 * kKiB, 64 * kTiB);
    if (e.contains("write_bps")) io.write_bps = read_uint(e["write_bps"], p + ".write_bps", 4 * kKiB, 64 * kTiB);
    if (e.contains("read_iops")) io.read_iops = read_uint(e["read_iops"], p + ".read_iops", 1, 1ull << 32);
    if (e.contains("write_iops")) io.write_iops = read_uint(e["write_iops"], p + ".write_iops", 1, 1ull << 32);
    if (!io.read_bps && !io.write_bps && !io.read_iops && !io.write_iops)
      throw JobError(p, "sets no limit (give read_bps, write_bps, read_iops or write_iops)");
    out.push_back(std::move(io));
  }
}

void read_limits(const json& v, Limits& l) {
  const std::string path = "limits";
  require_object(v, path);
  reject_unknown_keys(v, path,
                      {"wall_time_ms", "output_bytes", "cpu_time_ms", "writable_bytes", "open_files",
                       "file_size_bytes", "stack_bytes", "memory_bytes", "cpus", "pids", "io"});
  auto field = [&](const char* k) { return join_path(path, k); };
  if (v.contains("wall_time_ms")) l.wall_time_ms = read_uint(v["wall_time_ms"], field("wall_time_ms"), 1, 7 * kDay_ms);
  if (v.contains("output_bytes")) l.output_bytes = read_uint(v["output_bytes"], field("output_bytes"), 0, 1 * kGiB);
  if (v.contains("cpu_time_ms")) {
    if (v["cpu_time_ms"].is_null()) l.cpu_time_ms.reset();
    else l.cpu_time_ms = read_uint(v["cpu_time_ms"], field("cpu_time_ms"), 1, 7 * kDay_ms);
  }
  if (v.contains("writable_bytes"))
    l.writable_bytes = read_uint(v["writable_bytes"], field("writable_bytes"), 64 * kKiB, 1 * kTiB,
                                 "the overlay needs room for its work directory");
  if (v.contains("open_files"))
    l.open_files = read_uint(v["open_files"], field("open_files"), 4, 1 << 20, "stdin, stdout and stderr take three");
  if (v.contains("file_size_bytes")) l.file_size_bytes = read_uint(v["file_size_bytes"], field("file_size_bytes"), 0, 1 * kTiB);
  if (v.contains("stack_bytes")) {
    if (v["stack_bytes"].is_null()) l.stack_bytes.reset();
    else l.stack_bytes = read_uint(v["stack_bytes"], field("stack_bytes"), 64 * kKiB, 1 * kGiB);
  }
  if (v.contains("memory_bytes"))
    l.memory_bytes = read_uint(v["memory_bytes"], field("memory_bytes"), 1 * kMiB, 16 * kTiB,
                               "a process needs more than that to start");
  if (v.contains("cpus")) {
    if (v["cpus"].is_null()) l.cpus.reset();
    else l.cpus = read_double(v["cpus"], field("cpus"), 0.01, 4096);
  }
  if (v.contains("pids"))
    l.pids = read_uint(v["pids"], field("pids"), 1, 4 * 1024 * 1024, "the command itself is one task");
  if (v.contains("io")) read_io_limits(v["io"], field("io"), l.io);
}

void read_mounts(const json& v, std::vector<BindMount>& out) {
  if (!v.is_array()) throw JobError("mounts", "expected an array, got " + describe(v));
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = "mounts[" + std::to_string(i) + "]";
    const json& e = v[i];
    require_object(e, p);
    reject_unknown_keys(e, p, {"source", "target", "readonly"});
    BindMount m;
    if (!e.contains("source")) throw JobError(p + ".source", "is required");
    if (!e.contains("target")) throw JobError(p + ".target", "is required");
    m.source = read_string(e["source"], p + ".source", false);
    m.target = read_string(e["target"], p + ".target", false);
    if (e.contains("readonly")) m.readonly = read_bool(e["readonly"], p + ".readonly");
    out.push_back(std::move(m));
  }
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 64) return false;
  for (char c : h)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return true;
}

// Merges `defaults` under `job`: job keys win; "limits" objects are merged key by key.
json merge_defaults(const json& job, const json& defaults) {
  if (defaults.is_null()) return job;
  require_object(defaults, "defaults");
  if (!job.is_object()) return job;  // reported by the caller
  json merged = defaults;
  for (auto it = job.begin(); it != job.end(); ++it) {
    if (it.key() == "limits" && it->is_object() && merged.contains("limits") && merged["limits"].is_object()) {
      for (auto l = it->begin(); l != it->end(); ++l) merged["limits"][l.key()] = *l;
    } else {
      merged[it.key()] = *it;
    }
  }
  return merged;
}

}  // namespace

JobSpec job_from_json(const json& input, const json& defaults) {
  const json j = merge_defaults(input, defaults);
  require_object(j, "");
  reject_unknown_keys(j, "", {"id", "rootfs", "command", "env", "cwd", "hostname", "stdin", "mounts",
                              "network", "limits", "policy", "user_namespace", "user"});
  JobSpec job;
  if (j.contains("id") && !j["id"].is_null()) job.id = read_string(j["id"], "id");

  if (!j.contains("rootfs")) throw JobError("rootfs", "is required");
  job.rootfs = read_string(j["rootfs"], "rootfs", false);

  if (!j.contains("command")) throw JobError("command", "is required");
  const json& cmd = j["command"];
  if (!cmd.is_array()) throw JobError("command", "expected an array of strings, got " + describe(cmd));
  if (cmd.empty()) throw JobError("command", "must not be empty");
  for (size_t i = 0; i < cmd.size(); ++i)
    job.command.push_back(read_string(cmd[i], "command[" + std::to_string(i) + "]", i != 0));

  if (j.contains("env")) {
    const json& env = j["env"];
    require_object(env, "env");
    for (auto it = env.begin(); it != env.end(); ++it) {
      std::string p = "env." + it.key();
      if (it.key().empty() || it.key().find('=') != std::string::npos || it.key().find('\0') != std::string::npos)
        throw JobError(p, "a variable name must be non-empty and contain no '=' or NUL");
      job.env[it.key()] = read_string(*it, p);
    }
  }
  if (j.contains("cwd")) job.cwd = read_string(j["cwd"], "cwd", false);
  if (j.contains("hostname")) {
    job.hostname = read_string(j["hostname"], "hostname", false);
    if (!valid_hostname(job.hostname))
      throw JobError("hostname", describe(j["hostname"]) + " is not a hostname (1-64 of a-z, 0-9, '-', '.')");
  }
  if (j.contains("stdin")) {
    if (!j["stdin"].is_string()) throw JobError("stdin", "expected a string, got " + describe(j["stdin"]));
    job.stdin_data = j["stdin"].get<std::string>();
  }
  if (j.contains("mounts")) read_mounts(j["mounts"], job.mounts);
  if (j.contains("network")) {
    std::string net = read_string(j["network"], "network");
    if (net != "none") throw JobError("network", describe(j["network"]) + " is not supported (supported: \"none\")");
    job.network = NetworkMode::none;
  }
  if (j.contains("limits")) read_limits(j["limits"], job.limits);
  if (j.contains("policy")) job.policy = read_string(j["policy"], "policy", false);
  if (j.contains("user_namespace") && !j["user_namespace"].is_null())
    job.user_namespace = read_bool(j["user_namespace"], "user_namespace");
  if (j.contains("user") && !j["user"].is_null()) {
    const json& u = j["user"];
    require_object(u, "user");
    reject_unknown_keys(u, "user", {"uid", "gid"});
    if (!u.contains("uid")) throw JobError("user.uid", "is required");
    if (!u.contains("gid")) throw JobError("user.gid", "is required");
    // Inside the cell; a user namespace maps 0-65535, so larger ids could not be mapped.
    job.user = Identity{static_cast<uint32_t>(read_uint(u["uid"], "user.uid", 0, 65535)),
                        static_cast<uint32_t>(read_uint(u["gid"], "user.gid", 0, 65535))};
  }
  return job;
}

JobRequest request_from_json(const json& input, const json& defaults) {
  json j = merge_defaults(input, defaults);
  JobRequest request;
  if (j.is_object() && j.contains("priority")) {
    const json& p = j["priority"];
    if (!p.is_number_integer() || p.get<int64_t>() < -1000000 || p.get<int64_t>() > 1000000)
      throw JobError("priority", "expected a whole number from -1000000 to 1000000, got " + describe(p));
    request.priority = p.get<int>();
    j.erase("priority");
  }
  if (j.is_object() && j.contains("queue_timeout_ms")) {
    if (!j["queue_timeout_ms"].is_null())
      request.queue_timeout_ms = read_uint(j["queue_timeout_ms"], "queue_timeout_ms", 1, 7 * kDay_ms);
    j.erase("queue_timeout_ms");
  }
  request.job = job_from_json(j);
  return request;
}

json parse_json_text(std::string_view text) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string msg = e.what();
    auto pos = msg.find("] ");
    throw JobError("", "invalid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos + 2)));
  }
}

JobSpec job_from_text(std::string_view text, const json& defaults) {
  return job_from_json(parse_json_text(text), defaults);
}

json job_to_json(const JobSpec& job) {
  json limits = {
      {"wall_time_ms", job.limits.wall_time_ms},       {"output_bytes", job.limits.output_bytes},
      {"writable_bytes", job.limits.writable_bytes},   {"open_files", job.limits.open_files},
      {"file_size_bytes", job.limits.file_size_bytes}, {"memory_bytes", job.limits.memory_bytes},
      {"pids", job.limits.pids},
  };
  if (job.limits.cpu_time_ms) limits["cpu_time_ms"] = *job.limits.cpu_time_ms;
  if (job.limits.stack_bytes) limits["stack_bytes"] = *job.limits.stack_bytes;
  if (job.limits.cpus) limits["cpus"] = *job.limits.cpus;
  if (!job.limits.io.empty()) {
    json io = json::array();
    for (auto& d : job.limits.io) {
      json e = {{"device", d.device}};
      if (d.read_bps) e["read_bps"] = d.read_bps;
      if (d.write_bps) e["write_bps"] = d.write_bps;
      if (d.read_iops) e["read_iops"] = d.read_iops;
      if (d.write_iops) e["write_iops"] = d.write_iops;
      io.push_back(e);
    }
    limits["io"] = io;
  }
  json mounts = json::array();
  for (auto& m : job.mounts) mounts.push_back({{"source", m.source}, {"target", m.target}, {"readonly", m.readonly}});
  json j = {{"rootfs", job.rootfs}, {"command", job.command}, {"env", job.env}, {"cwd", job.cwd},
            {"hostname", job.hostname}, {"stdin", job.stdin_data}, {"mounts", mounts},
            {"network", "none"}, {"limits", limits}, {"policy", job.policy}};
  if (!job.id.empty()) j["id"] = job.id;
  if (job.user_namespace) j["user_namespace"] = *job.user_namespace;
  if (job.user) j["user"] = {{"uid", job.user->uid}, {"gid", job.user->gid}};
  return j;
}

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
  j["stats"] = stats;
  if (!r.breakdown.empty()) {
    // An array, not an object: the steps keep their launch order.
    json steps = json::array();
    for (const StepTime& s : r.breakdown) steps.push_back({{"step", s.step}, {"ms", s.ms}});
    j["breakdown"] = steps;
  }
  return j;
}

Result result_from_json(const json& j) {
  Result r;
  r.id = j.value("id", "");
  auto status = status_from_string(j.at("status").get<std::string>());
  if (!status) throw JobError("status", "unknown status " + describe(j.at("status")));
  r.status = *status;
  if (!j.at("exit_code").is_null()) r.exit_code = j.at("exit_code").get<int>();
  if (!j.at("signal").is_null()) r.signal = j.at("signal").get<int>();
  if (!j.at("error").is_null()) r.error = j.at("error").get<std::string>();
  r.stdout_data = j.at("stdout").get<std::string>();
  r.stderr_data = j.at("stderr").get<std::string>();
  r.stdout_truncated = j.at("stdout_truncated").get<bool>();
  r.stderr_truncated = j.at("stderr_truncated").get<bool>();
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
  return r;
}

void prepare_job(JobSpec& job, PolicyRegistry& policies) {
  for (size_t i = 0; i < job.limits.io.size(); ++i) {
    try {
      resolve_io_limit(job.limits.io[i]);
    } catch (const std::invalid_argument& e) {
      throw JobError("limits.io[" + std::to_string(i) + "].device", e.what());
    }
  }
  try {
    job.security = policies.get(job.policy);
  } catch (const PolicyError& e) {
    throw JobError(e.field() == "policy" ? "" : "policy", e.what());
  } catch (const std::exception& e) {
    throw JobError("policy", cellblock::quoted(job.policy) + ": " + e.what());
  }
}

std::string dump_json(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace cellblock
