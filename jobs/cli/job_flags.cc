#include "jobs/cli/job_flags.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/format/job_json.h"

namespace cellblock {
namespace {

double parse_number_prefix(const std::string& text, size_t& used) {
  try {
    double v = std::stod(text, &used);
    if (!std::isfinite(v) || v < 0) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument("\"" + text + "\" is not a non-negative number");
  }
}

std::string read_file(const std::string& path) {
  try {
    return read_host_file(path);
  } catch (const SysError& e) {
    throw FieldError("--stdin-file", e.what());
  }
}

}  // namespace

uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  double v = parse_number_prefix(text, used);
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  double mul = 1;
  if (unit == "") mul = 1;
  else if (unit == "k") mul = 1024.0;
  else if (unit == "m") mul = 1024.0 * 1024;
  else if (unit == "g") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t") mul = 1024.0 * 1024 * 1024 * 1024;
  else throw std::invalid_argument("\"" + text + "\" has an unknown unit (use K, M, G or T)");
  return static_cast<uint64_t>(std::llround(v * mul));
}

uint64_t parse_duration_ms(const std::string& text) {
  size_t used = 0;
  double v = parse_number_prefix(text, used);
  std::string unit = text.substr(used);
  double mul;
  if (unit == "" || unit == "ms") mul = 1;
  else if (unit == "s") mul = 1000;
  else if (unit == "m" || unit == "min") mul = 60'000;
  else if (unit == "h") mul = 3'600'000;
  else throw std::invalid_argument("\"" + text + "\" has an unknown unit (use ms, s, m or h)");
  return static_cast<uint64_t>(std::llround(v * mul));
}

std::string absolute_host_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::current_path() / path).lexically_normal().string();
}

void JobFlags::add_to(CLI::App& app) {
  app.add_option("--id", id, "Job id, echoed in the result");
  app.add_option("--rootfs", rootfs, "Root filesystem directory (used read-only)");
  app.add_option("--image", image, "Run in an image: oci:/layout[:tag] or docker-archive:/file.tar[:repo:tag]");
  app.add_option("--env,-e", env, "Environment variable KEY=VALUE (repeatable; nothing is inherited)");
  app.add_option("--mount,-m", mounts, "Bind mount SRC:DST[:ro|:rw] (read-only unless :rw)");
  app.add_option("--cwd", cwd, "Working directory inside the cell");
  app.add_option("--hostname", hostname, "Hostname inside the cell");
  app.add_option("--stdin", stdin_text, "Text fed to the command's stdin");
  app.add_option("--stdin-file", stdin_file, "File whose content is fed to stdin");
  app.add_option("--wall-time", wall_time, "Wall-clock limit, e.g. 500ms, 10s");
  app.add_option("--cpu-time", cpu_time, "CPU-time limit of the whole cell, e.g. 2s");
  app.add_option("--memory", memory, "Memory limit, e.g. 256M");
  app.add_option("--cpus", cpus, "CPU bandwidth in cores, e.g. 0.5");
  app.add_option("--pids", pids, "Most tasks alive at once");
  app.add_option("--io", io, "Block-I/O throttle DEVICE:read_bps=N,write_bps=N,read_iops=N,write_iops=N");
  app.add_option("--writable", writable, "Size of the writable layer (overlay upper, /tmp), e.g. 64M");
  app.add_option("--output-limit", output, "Cap on stdout and on stderr, e.g. 1M");
  app.add_option("--open-files", open_files, "RLIMIT_NOFILE");
  app.add_option("--file-size", file_size, "RLIMIT_FSIZE, e.g. 64M");
  app.add_option("--stack", stack, "RLIMIT_STACK, e.g. 8M");
  app.add_option("command", command, "The command and its arguments (after --)");
}

nlohmann::json JobFlags::apply(nlohmann::json job) const {
  if (!job.is_object()) job = nlohmann::json::object();
  auto flag_error = [](const char* flag, const std::exception& e) { return FieldError(flag, e.what()); };
  if (id) job["id"] = *id;
  if (rootfs && image) throw FieldError("--image", "give --rootfs or --image, not both");
  if (rootfs) {
    job["rootfs"] = absolute_host_path(*rootfs);
    job.erase("image");
  }
  if (image) {
    job["image"] = *image;
    job.erase("rootfs");
  }
  if (!command.empty()) job["command"] = command;
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw FieldError("--env", "\"" + kv + "\" is not KEY=VALUE");
    job["env"][kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& m : mounts) {
    std::string spec = m;
    bool readonly = true;
    if (spec.size() > 3 && (spec.ends_with(":ro") || spec.ends_with(":rw"))) {
      readonly = spec.ends_with(":ro");
      spec.resize(spec.size() - 3);
    }
    auto colon = spec.find(':');
    if (colon == std::string::npos) throw FieldError("--mount", "\"" + m + "\" is not SRC:DST[:ro|:rw]");
    job["mounts"].push_back({{"source", absolute_host_path(spec.substr(0, colon))},
                             {"target", spec.substr(colon + 1)},
                             {"readonly", readonly}});
  }
  if (cwd) job["cwd"] = *cwd;
  if (hostname) job["hostname"] = *hostname;
  if (stdin_text && stdin_file) throw FieldError("--stdin", "give --stdin or --stdin-file, not both");
  if (stdin_text) job["stdin"] = *stdin_text;
  if (stdin_file) job["stdin"] = read_file(*stdin_file);
  auto& limits = job["limits"];
  // A flag's value into limits[key], parsed; a bad value is an error naming the flag.
  auto set_limit = [&](const std::optional<std::string>& value, const char* flag, const char* key, auto parse) {
    if (!value) return;
    try {
      limits[key] = parse(*value);
    } catch (const std::invalid_argument& e) {
      throw flag_error(flag, e);
    }
  };
  set_limit(wall_time, "--wall-time", "wall_time_ms", parse_duration_ms);
  set_limit(cpu_time, "--cpu-time", "cpu_time_ms", parse_duration_ms);
  set_limit(memory, "--memory", "memory_bytes", parse_size);
  set_limit(writable, "--writable", "writable_bytes", parse_size);
  set_limit(output, "--output-limit", "output_bytes", parse_size);
  set_limit(file_size, "--file-size", "file_size_bytes", parse_size);
  set_limit(stack, "--stack", "stack_bytes", parse_size);
  if (cpus) limits["cpus"] = *cpus;
  if (pids) limits["pids"] = *pids;
  if (open_files) limits["open_files"] = *open_files;
  for (const auto& spec : io) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos) throw FieldError("--io", "\"" + spec + "\" is not DEVICE:key=value,...");
    nlohmann::json entry = {{"device", spec.substr(0, colon)}};
    std::stringstream pairs(spec.substr(colon + 1));
    std::string pair;
    while (std::getline(pairs, pair, ',')) {
      auto eq = pair.find('=');
      if (eq == std::string::npos) throw FieldError("--io", "\"" + pair + "\" is not key=value");
      try {
        entry[pair.substr(0, eq)] = parse_size(pair.substr(eq + 1));
      } catch (const std::invalid_argument& e) { throw flag_error("--io", e); }
    }
    limits["io"].push_back(entry);
  }
  if (limits.empty()) job.erase("limits");
  return job;
}

}  // namespace cellblock
