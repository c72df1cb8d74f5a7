#include "jobs/gojudge/run_request.h"

#include "jobs/format/cell_path.h"
#include "jobs/format/json_reader.h"
#include "jobs/gojudge/pipe_mapping.h"

namespace cellblock::gojudge {
namespace {

using nlohmann::json;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kWeekNs = 7ull * 24 * 3600 * 1'000'000'000;
constexpr size_t kMaxCmds = 64;

// A map key as a field path shows it: copyIn."a b.sh".
std::string key_field(const std::string& parent, const std::string& key) { return parent + "." + json_quoted(key); }

// go-judge's limits are Go integers where 0 means "not set": so here, 0 leaves the service's
// default in place. `min` and `max` are the native format's bounds in go-judge's unit, so that
// the error names the go-judge field, not the job field it becomes.
std::optional<uint64_t> read_limit(const json& cmd, const std::string& path, const char* key, uint64_t min, uint64_t max,
                                   std::string_view why_min = {}) {
  if (!cmd.contains(key)) return std::nullopt;
  const std::string field = key_path(path, key);
  if (cmd[key].is_number() && cmd[key] == 0) return std::nullopt;
  return read_uint(cmd[key], field, min, max, why_min);
}

InputFile read_input_file(const json& v, const std::string& path) {
  require_object(v, path, {"content", "fileId", "src"});
  InputFile f;
  if (v.contains("content")) {
    if (!v["content"].is_string()) throw FieldError(key_path(path, "content"), "expected a string, got " + describe(v["content"]));
    f.content = v["content"].get<std::string>();  // NUL bytes are fine in file content
  }
  if (v.contains("fileId")) f.file_id = read_string(v["fileId"], key_path(path, "fileId"), false);
  if (v.contains("src")) {
    f.src_field = key_path(path, "src");
    f.src = read_string(v["src"], f.src_field, false);
  }
  if (f.content.has_value() + f.file_id.has_value() + f.src.has_value() != 1)
    throw FieldError(path, "give exactly one of content, fileId or src");
  return f;
}

Collector read_collector(const json& v, const std::string& path) {
  require_object(v, path);
  if (v.contains("content") || v.contains("fileId") || v.contains("src"))
    throw FieldError(path, describe(v) + " is an input: files[1] and files[2] collect stdout and stderr as {\"name\", \"max\"}");
  require_object(v, path, {"name", "max"});
  Collector c;
  c.name = read_string(require_key(v, path, "name"), key_path(path, "name"), false);
  if (v.contains("max")) c.max = read_uint(v["max"], key_path(path, "max"), 0, 1 * kGiB);
  return c;
}

void read_files(const json& v, const std::string& path, RunCmd& cmd) {
  require_array(v, path, "files for fd 0, 1 and 2");
  if (v.size() > 3)
    throw FieldError(path, "has " + std::to_string(v.size()) + " entries: only fd 0, 1 and 2 are supported");
  for (size_t fd = 0; fd < v.size(); ++fd) {
    const std::string p = index_path(path, fd);
    if (v[fd].is_null()) continue;  // go-judge's "no file here"
    if (fd == 0) cmd.stdin_file = read_input_file(v[fd], p);
    else (fd == 1 ? cmd.stdout_collector : cmd.stderr_collector) = read_collector(v[fd], p);
  }
  if (cmd.stdout_collector && cmd.stderr_collector && cmd.stdout_collector->name == cmd.stderr_collector->name)
    throw FieldError(index_path(path, 2) + ".name", json_quoted(cmd.stderr_collector->name) + " is files[1]'s name too");
}

std::vector<OutputName> read_output_names(const json& v, const std::string& path) {
  require_array(v, path, "file names");
  std::vector<OutputName> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = index_path(path, i);
    OutputName n;
    n.name = read_string(v[i], p, false);
    if (n.name.back() == '?') {
      n.optional = true;
      n.name.pop_back();
    }
    check_relative_path(n.name, p);
    out.push_back(std::move(n));
  }
  return out;
}

RunCmd read_cmd(const json& v, const std::string& path) {
  require_object(v, path);
  // Options go-judge has and cellblock does not: asked for, they are named, never silently
  // ignored. Their zero value (false, 0, "") is go-judge's own "not asked for", which clients
  // send as a matter of course, so it passes.
  for (const char* k : {"copyOutDir", "copyOutTruncate", "tty", "cpuSetLimit"}) {
    if (!v.contains(k)) continue;
    const json& o = v[k];
    if (o.is_null() || o == false || o == 0 || o == "") continue;
    throw FieldError(key_path(path, k), describe(o) + ": this go-judge option is not supported by cellblock (docs/go-judge.md)");
  }
  require_object(v, path,
                 {"args", "env", "files", "cpuLimit", "clockLimit", "memoryLimit", "stackLimit", "procLimit",
                  "cpuRateLimit", "copyIn", "copyOut", "copyOutCached", "copyOutMax", "copyOutDir", "copyOutTruncate",
                  "tty", "realCpuLimit", "cpuSetLimit", "strictMemoryLimit", "dataSegmentLimit", "addressSpaceLimit"});
  RunCmd cmd;
  const json& args = require_key(v, path, "args");
  const std::string args_path = key_path(path, "args");
  require_array(args, args_path, "strings");
  if (args.empty()) throw FieldError(args_path, "must not be empty: args[0] is the program");
  for (size_t i = 0; i < args.size(); ++i) cmd.args.push_back(read_string(args[i], index_path(args_path, i), i > 0));

  if (v.contains("env")) {
    const std::string env_path = key_path(path, "env");
    require_array(v["env"], env_path, "\"KEY=VALUE\" strings");
    for (size_t i = 0; i < v["env"].size(); ++i) {
      const std::string p = index_path(env_path, i);
      const std::string kv = read_string(v["env"][i], p, false);
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw FieldError(p, json_quoted(kv) + " is not KEY=VALUE");
      cmd.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  if (v.contains("files")) read_files(v["files"], key_path(path, "files"), cmd);

  cmd.cpu_limit_ns = read_limit(v, path, "cpuLimit", kNsPerMs, kWeekNs, "1 ms: cellblock counts CPU time in ms");
  cmd.clock_limit_ns = read_limit(v, path, "clockLimit", kNsPerMs, kWeekNs, "1 ms: cellblock counts wall time in ms");
  // go-judge's other name for the wall-clock limit; set, it wins over clockLimit (as in go-judge).
  if (auto real = read_limit(v, path, "realCpuLimit", kNsPerMs, kWeekNs, "1 ms: cellblock counts wall time in ms"))
    cmd.clock_limit_ns = real;
  cmd.memory_limit_bytes = read_limit(v, path, "memoryLimit", 1 * kMiB, 16ull << 40, "a process needs more than that to start");
  cmd.stack_limit_bytes = read_limit(v, path, "stackLimit", 64 << 10, 1 * kGiB);
  cmd.proc_limit = read_limit(v, path, "procLimit", 1, 4 * kMiB, "the command itself is one task");
  cmd.cpu_rate_limit = read_limit(v, path, "cpuRateLimit", 10, 4096 * 1000, "10 is 1% of a CPU");
  cmd.copy_out_max = read_limit(v, path, "copyOutMax", 1, 1 * kGiB);
  // As go-judge: strictMemoryLimit is dataSegmentLimit; both bound RLIMIT_DATA by the memory limit.
  for (const char* k : {"strictMemoryLimit", "dataSegmentLimit"})
    if (v.contains(k) && !v[k].is_null() && read_bool(v[k], key_path(path, k))) cmd.data_segment_limit = true;
  if (v.contains("addressSpaceLimit") && !v["addressSpaceLimit"].is_null())
    cmd.address_space_limit = read_bool(v["addressSpaceLimit"], key_path(path, "addressSpaceLimit"));

  if (v.contains("copyIn")) {
    const std::string in_path = key_path(path, "copyIn");
    require_object(v["copyIn"], in_path);
    for (auto it = v["copyIn"].begin(); it != v["copyIn"].end(); ++it) {
      const std::string p = key_field(in_path, it.key());
      check_relative_path(it.key(), p);
      cmd.copy_in[it.key()] = read_input_file(it.value(), p);
    }
  }
  if (v.contains("copyOut")) cmd.copy_out = read_output_names(v["copyOut"], key_path(path, "copyOut"));
  if (v.contains("copyOutCached")) cmd.copy_out_cached = read_output_names(v["copyOutCached"], key_path(path, "copyOutCached"));
  return cmd;
}

}  // namespace

RunRequest read_run_request(std::string_view body) {
  const json doc = parse_json_text(body);
  require_object(doc, "");
  require_object(doc, "", {"requestId", "cmd", "pipeMapping"});
  RunRequest r;
  if (doc.contains("requestId")) r.request_id = read_string(doc["requestId"], "requestId");
  const json& cmds = require_key(doc, "", "cmd");
  require_array(cmds, "cmd", "commands");
  if (cmds.empty()) throw FieldError("cmd", "no cmd provided");
  if (cmds.size() > kMaxCmds)
    throw FieldError("cmd", std::to_string(cmds.size()) + " commands are too many for one request (at most " +
                                std::to_string(kMaxCmds) + ")");
  for (size_t i = 0; i < cmds.size(); ++i) r.cmds.push_back(read_cmd(cmds[i], index_path("cmd", i)));
  if (doc.contains("pipeMapping")) r.pipes = read_pipe_mapping(doc["pipeMapping"], r.cmds);
  return r;
}

}  // namespace cellblock::gojudge
