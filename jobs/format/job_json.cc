#include "jobs/format/job_json.h"

#include "executor/block_device.h"
#include "executor/base/sys_error.h"
#include "jobs/format/policy_json.h"

#include <limits>

#include "executor/base/host_file.h"
#include "executor/net/ipv4.h"
#include "jobs/format/cell_path.h"
#include "jobs/format/file_content.h"
#include "jobs/format/pod_json.h"

namespace cellblock {
namespace {

using nlohmann::json;

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB, kTiB = 1024 * kGiB;
constexpr uint64_t kDay_ms = 24ull * 3600 * 1000;

void read_io_limits(const json& v, const std::string& path, std::vector<IoLimit>& out) {
  require_array(v, path);
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = index_path(path, i);
    const json& e = v[i];
    require_object(e, p, {"device", "read_bps", "write_bps", "read_iops", "write_iops"});
    IoLimit io;
    io.device = read_string(require_key(e, p, "device"), p + ".device", false);
    // Throttles below these would stall any real program; they are typos, not limits.
    if (e.contains("read_bps")) io.read_bps = read_uint(e["read_bps"], p + ".read_bps", 4 * kKiB, 64 * kTiB);
    if (e.contains("write_bps")) io.write_bps = read_uint(e["write_bps"], p + ".write_bps", 4 * kKiB, 64 * kTiB);
    if (e.contains("read_iops")) io.read_iops = read_uint(e["read_iops"], p + ".read_iops", 1, 1ull << 32);
    if (e.contains("write_iops")) io.write_iops = read_uint(e["write_iops"], p + ".write_iops", 1, 1ull << 32);
    if (!io.read_bps && !io.write_bps && !io.read_iops && !io.write_iops)
      throw FieldError(p, "sets no limit (give read_bps, write_bps, read_iops or write_iops)");
    out.push_back(std::move(io));
  }
}

}  // namespace

void read_limits(const json& v, Limits& l, const std::string& path) {
  require_object(v, path, {"wall_time_ms", "output_bytes", "cpu_time_ms", "writable_bytes", "open_files",
                       "file_size_bytes", "stack_bytes", "data_bytes", "address_space_bytes", "memory_bytes", "cpus",
                       "pids", "io"});
  auto field = [&](const char* k) { return key_path(path, k); };
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
  for (auto [key, value] : {std::pair{"data_bytes", &l.data_bytes}, std::pair{"address_space_bytes", &l.address_space_bytes}}) {
    if (!v.contains(key)) continue;
    if (v[key].is_null()) value->reset();
    else *value = read_uint(v[key], field(key), 1 * kMiB, 16 * kTiB, "a process needs more than that to start");
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

namespace {

void read_mounts(const json& v, std::vector<BindMount>& out) {
  require_array(v, "mounts");
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = index_path("mounts", i);
    const json& e = v[i];
    require_object(e, p, {"source", "target", "readonly"});
    BindMount m;
    m.source = read_string(require_key(e, p, "source"), p + ".source", false);
    m.target = read_string(require_key(e, p, "target"), p + ".target", false);
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

// Files in the cell are small by design: the tmpfs holds them and the JSON carries them.
constexpr uint64_t kMaxCollectBytes = 1ull << 30;
constexpr size_t kMaxFiles = 1000;

// "files": {"/w/in.txt": {"content": "text"} | {"base64": "..."} | {"src": "/host/path"}}.
void read_files(const json& v, HostFiles host_files, std::vector<InputFile>& out) {
  require_object(v, "files");
  if (v.size() > kMaxFiles) throw FieldError("files", std::to_string(v.size()) + " files are too many (at most " + std::to_string(kMaxFiles) + ")");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string p = "files." + json_quoted(it.key());
    relative_to_work_dir(it.key(), p);
    const json& f = *it;
    require_object(f, p, {"content", "base64", "src"});
    if (f.size() != 1) throw FieldError(p, "expected exactly one of \"content\", \"base64\" or \"src\", got " + describe(f));
    InputFile file{it.key(), {}};
    if (f.contains("content")) {
      file.content = read_string(f["content"], p + ".content");
    } else if (f.contains("base64")) {
      file.content = decode_base64(read_string(f["base64"], p + ".base64"), p + ".base64");
    } else {
      const std::string src = read_string(f["src"], p + ".src", false);
      if (host_files == HostFiles::refused)
        throw FieldError(p + ".src", json_quoted(src) + ": host files can be named only on the command line "
                                     "(cellblock run/batch); send the file's content or base64 instead");
      if (src[0] != '/') throw FieldError(p + ".src", json_quoted(src) + " is not an absolute host path");
      try {
        file.content = read_host_file(src);
      } catch (const std::exception& e) {
        throw FieldError(p + ".src", e.what());
      }
    }
    out.push_back(std::move(file));
  }
}

// "collect": [{"path": "/w/out.xml", "max_bytes": N, "keep": true}, ...].
void read_collect(const json& v, std::vector<CollectFile>& out) {
  require_array(v, "collect");
  if (v.size() > kMaxFiles) throw FieldError("collect", std::to_string(v.size()) + " files are too many (at most " + std::to_string(kMaxFiles) + ")");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = index_path("collect", i);
    require_object(v[i], p, {"path", "max_bytes", "keep"});
    CollectFile c;
    c.path = read_string(require_key(v[i], p, "path"), p + ".path", false);
    relative_to_work_dir(c.path, p + ".path");
    for (const CollectFile& earlier : out)
      if (earlier.path == c.path) throw FieldError(p + ".path", json_quoted(c.path) + " is collected twice");
    if (v[i].contains("max_bytes")) c.max_bytes = read_uint(v[i]["max_bytes"], p + ".max_bytes", 0, kMaxCollectBytes);
    if (v[i].contains("keep")) c.keep = read_bool(v[i]["keep"], p + ".keep");
    out.push_back(std::move(c));
  }
}

// Merges `defaults` under `job`: job keys win; "limits" objects are merged key by key.
json merge_defaults(const json& job, const json& defaults) {
  if (defaults.is_null()) return job;
  require_object(defaults, "defaults");
  if (!job.is_object()) return job;  // reported by the caller
  json merged = defaults;
  // A job's own root replaces the defaults' one: "image" over a default "rootfs" and back.
  if (job.contains("image")) merged.erase("rootfs");
  if (job.contains("rootfs")) merged.erase("image");
  for (auto it = job.begin(); it != job.end(); ++it) {
    if (it.key() == "limits" && it->is_object() && merged.contains("limits") && merged["limits"].is_object()) {
      for (auto l = it->begin(); l != it->end(); ++l) merged["limits"][l.key()] = *l;
    } else {
      merged[it.key()] = *it;
    }
  }
  return merged;
}

// "egress" and "egress_allow" (docs/networking.md): only for bridged jobs, since a job with only
// loopback has nowhere to go; a list without "egress": true would be a silent no-op, so refused.
void read_egress(const json& j, JobSpec& job) {
  if (j.contains("egress")) job.egress = read_bool(j["egress"], "egress");
  if (j.contains("egress_allow")) {
    const json& allow = j["egress_allow"];
    require_array(allow, "egress_allow", "\"CIDR[:port]\" strings");
    for (size_t i = 0; i < allow.size(); ++i) {
      const std::string field = "egress_allow[" + std::to_string(i) + "]";
      const std::string text = read_string(allow[i], field, false);
      try {
        job.egress_allow.push_back(parse_egress_rule(text));
      } catch (const std::invalid_argument& e) {
        throw FieldError(field, describe(allow[i]) + " is not \"CIDR[:port]\": " + e.what());
      }
    }
    if (!job.egress_allow.empty() && !job.egress)
      throw FieldError("egress_allow", "needs \"egress\": true (it narrows egress, it does not grant it)");
  }
  if ((job.egress || !job.egress_allow.empty()) && job.network != NetworkMode::bridge)
    throw FieldError(job.egress ? "egress" : "egress_allow", "needs \"network\": \"bridge\" (a job with \"network\": \"none\" has only loopback)");
}

}  // namespace

std::map<std::string, std::string> read_env(const json& env, const std::string& path) {
  require_object(env, path);
  std::map<std::string, std::string> out;
  for (auto it = env.begin(); it != env.end(); ++it) {
    std::string p = path + "." + it.key();
    if (it.key().empty() || it.key().find('=') != std::string::npos || it.key().find('\0') != std::string::npos)
      throw FieldError(p, "a variable name must be non-empty and contain no '=' or NUL");
    out[it.key()] = read_string(*it, p);
  }
  return out;
}

JobSpec job_from_json(const json& input, const json& defaults, HostFiles host_files) {
  const json j = merge_defaults(input, defaults);
  require_object(j, "", {"id", "rootfs", "image", "image_digest", "command", "env", "cwd", "hostname", "stdin", "mounts", "files",
                              "collect", "network", "egress", "egress_allow", "limits", "policy", "user_namespace",
                              "user", "time_namespace", "pod"});
  JobSpec job;
  if (j.contains("id") && !j["id"].is_null()) job.id = read_string(j["id"], "id");

  // A job runs in a rootfs directory or in an image (docs/images.md), never both. An image's
  // config supplies the command and the working directory when the job gives none.
  const bool has_rootfs = j.contains("rootfs") && !j["rootfs"].is_null();
  const bool has_image = j.contains("image") && !j["image"].is_null();
  if (has_rootfs && has_image) throw FieldError("image", "give \"rootfs\" or \"image\", not both");
  if (has_image) {
    job.image = read_string(j["image"], "image", false);
    job.cwd.clear();  // the image's WorkingDir unless "cwd" says otherwise
    if (j.contains("image_digest")) job.image_digest = read_string(j["image_digest"], "image_digest", false);
  } else {
    if (j.contains("image_digest")) throw FieldError("image_digest", "pins an image: it needs \"image\"");
    job.rootfs = read_string(require_key(j, "", "rootfs"), "rootfs", false);
  }

  if (!has_image || j.contains("command")) {
    const json& cmd = require_key(j, "", "command");
    require_array(cmd, "command", "strings");
    if (cmd.empty()) throw FieldError("command", "must not be empty");
    for (size_t i = 0; i < cmd.size(); ++i)
      job.command.push_back(read_string(cmd[i], "command[" + std::to_string(i) + "]", i != 0));
  }

  if (j.contains("env")) job.env = read_env(j["env"], "env");
  if (j.contains("cwd")) job.cwd = read_string(j["cwd"], "cwd", false);
  if (j.contains("hostname")) {
    job.hostname = read_string(j["hostname"], "hostname", false);
    if (!valid_hostname(job.hostname))
      throw FieldError("hostname", describe(j["hostname"]) + " is not a hostname (1-64 of a-z, 0-9, '-', '.')");
  }
  if (j.contains("stdin")) {
    if (!j["stdin"].is_string()) throw FieldError("stdin", "expected a string, got " + describe(j["stdin"]));
    job.stdin_data = j["stdin"].get<std::string>();
  }
  if (j.contains("mounts")) read_mounts(j["mounts"], job.mounts);
  if (j.contains("files")) read_files(j["files"], host_files, job.files);
  if (j.contains("collect")) read_collect(j["collect"], job.collect);
  if (j.contains("network")) {
    std::string net = read_string(j["network"], "network");
    if (net == "none") job.network = NetworkMode::none;
    else if (net == "bridge") job.network = NetworkMode::bridge;
    else throw FieldError("network", describe(j["network"]) + " is not supported (supported: \"none\", \"bridge\")");
  }
  read_egress(j, job);
  if (j.contains("limits")) read_limits(j["limits"], job.limits, "limits");
  if (j.contains("policy")) job.policy = read_string(j["policy"], "policy", false);
  if (j.contains("user_namespace") && !j["user_namespace"].is_null())
    job.user_namespace = read_bool(j["user_namespace"], "user_namespace");
  if (j.contains("user") && !j["user"].is_null()) {
    const json& u = j["user"];
    require_object(u, "user", {"uid", "gid"});
    // Inside the cell; a user namespace maps 0-65535, so larger ids could not be mapped.
    job.user = Identity{static_cast<uint32_t>(read_uint(require_key(u, "user", "uid"), "user.uid", 0, 65535)),
                        static_cast<uint32_t>(read_uint(require_key(u, "user", "gid"), "user.gid", 0, 65535))};
  }
  if (j.contains("time_namespace")) job.time_namespace = read_bool(j["time_namespace"], "time_namespace");
  if (j.contains("pod")) read_pod(j["pod"], job, job.services);  // after "limits": the services' defaults follow them
  return job;
}

JobRequest request_from_json(const json& input, const json& defaults, HostFiles host_files) {
  json j = merge_defaults(input, defaults);
  JobRequest request;
  if (j.is_object() && j.contains("priority")) {
    const json& p = j["priority"];
    if (!p.is_number_integer() || p.get<int64_t>() < -1000000 || p.get<int64_t>() > 1000000)
      throw FieldError("priority", "expected a whole number from -1000000 to 1000000, got " + describe(p));
    request.priority = p.get<int>();
    j.erase("priority");
  }
  if (j.is_object() && j.contains("queue_timeout_ms")) {
    if (!j["queue_timeout_ms"].is_null())
      request.queue_timeout_ms = read_uint(j["queue_timeout_ms"], "queue_timeout_ms", 1, 7 * kDay_ms);
    j.erase("queue_timeout_ms");
  }
  request.job = job_from_json(j, nullptr, host_files);
  return request;
}

JobSpec job_from_text(std::string_view text, const json& defaults, HostFiles host_files) {
  return job_from_json(parse_json_text(text), defaults, host_files);
}

json limits_to_json(const Limits& l) {
  json limits = {
      {"wall_time_ms", l.wall_time_ms},       {"output_bytes", l.output_bytes},
      {"writable_bytes", l.writable_bytes},   {"open_files", l.open_files},
      {"file_size_bytes", l.file_size_bytes}, {"memory_bytes", l.memory_bytes},
      {"pids", l.pids},
  };
  if (l.cpu_time_ms) limits["cpu_time_ms"] = *l.cpu_time_ms;
  if (l.stack_bytes) limits["stack_bytes"] = *l.stack_bytes;
  if (l.data_bytes) limits["data_bytes"] = *l.data_bytes;
  if (l.address_space_bytes) limits["address_space_bytes"] = *l.address_space_bytes;
  if (l.cpus) limits["cpus"] = *l.cpus;
  if (!l.io.empty()) {
    json io = json::array();
    for (auto& d : l.io) {
      json e = {{"device", d.device}};
      if (d.read_bps) e["read_bps"] = d.read_bps;
      if (d.write_bps) e["write_bps"] = d.write_bps;
      if (d.read_iops) e["read_iops"] = d.read_iops;
      if (d.write_iops) e["write_iops"] = d.write_iops;
      io.push_back(e);
    }
    limits["io"] = io;
  }
  return limits;
}

json job_to_json(const JobSpec& job) {
  json limits = limits_to_json(job.limits);
  json mounts = json::array();
  for (auto& m : job.mounts) mounts.push_back({{"source", m.source}, {"target", m.target}, {"readonly", m.readonly}});
  json j = {{"rootfs", job.rootfs}, {"command", job.command}, {"env", job.env}, {"cwd", job.cwd},
            {"hostname", job.hostname}, {"stdin", job.stdin_data}, {"mounts", mounts},
            {"network", job.network == NetworkMode::bridge ? "bridge" : "none"}, {"limits", limits}, {"policy", job.policy}};
  if (!job.id.empty()) j["id"] = job.id;
  if (!job.image.empty()) {
    j.erase("rootfs");
    j["image"] = job.image;
    if (!job.image_digest.empty()) j["image_digest"] = job.image_digest;
    if (job.command.empty()) j.erase("command");
    if (job.cwd.empty()) j.erase("cwd");
  }
  if (job.user_namespace) j["user_namespace"] = *job.user_namespace;
  if (job.egress) j["egress"] = true;
  if (!job.egress_allow.empty()) {
    json allow = json::array();
    for (const EgressRule& r : job.egress_allow) allow.push_back(r.to_string());
    j["egress_allow"] = std::move(allow);
  }
  // Files as their bytes, never as a host path: the journal replays them without the host.
  if (!job.files.empty()) {
    json files = json::object();
    for (const InputFile& f : job.files) files[f.path] = content_to_json(f.content);
    j["files"] = std::move(files);
  }
  if (!job.collect.empty()) {
    json collect = json::array();
    for (const CollectFile& c : job.collect) {
      collect.push_back({{"path", c.path}, {"max_bytes", c.max_bytes}});
      if (c.keep) collect.back()["keep"] = true;
    }
    j["collect"] = std::move(collect);
  }
  if (job.user) j["user"] = {{"uid", job.user->uid}, {"gid", job.user->gid}};
  if (job.time_namespace) j["time_namespace"] = true;
  if (!job.services.empty()) j["pod"] = pod_to_json(job.services);
  return j;
}

void prepare_job(JobSpec& job, PolicyRegistry& policies) {
  // An image is resolved before this (docs/images.md); where nothing resolves it (go-judge's
  // /run) the job is refused here, before it is queued, rather than failing at launch.
  if (!job.image.empty() && job.lower_dirs.empty())
    throw FieldError("image", "jobs from images are not run here (nothing resolves their image); `cellblock run`, `batch`, "
                              "`worker` and the service's /v1/jobs do");
  for (size_t i = 0; i < job.limits.io.size(); ++i) {
    try {
      resolve_io_limit(job.limits.io[i]);
    } catch (const std::invalid_argument& e) {
      throw FieldError("limits.io[" + std::to_string(i) + "].device", e.what());
    }
  }
  try {
    job.security = policies.get(job.policy);
  } catch (const FieldError& e) {
    throw FieldError(e.field() == "policy" ? "" : "policy", e.what());
  } catch (const std::exception& e) {
    throw FieldError("policy", cellblock::quoted(job.policy) + ": " + e.what());
  }
}

}  // namespace cellblock
