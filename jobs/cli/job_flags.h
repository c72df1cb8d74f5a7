// `cellblock run [flags] -- CMD ARGS...`: command-line flags become the same job JSON a job file
// holds, so both go through one strict parser (job_json.h).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cellblock {

struct JobFlags {
  std::optional<std::string> id, rootfs, image, cwd, hostname, stdin_text, stdin_file;
  std::vector<std::string> env;     // KEY=VALUE
  std::vector<std::string> mounts;  // SRC:DST[:ro|:rw]
  std::optional<std::string> wall_time, cpu_time, memory, writable, output, file_size, stack;
  std::optional<uint64_t> pids, open_files;
  std::optional<double> cpus;
  std::vector<std::string> io;  // DEVICE:KEY=VALUE[,KEY=VALUE...]
  std::vector<std::string> command;

  void add_to(CLI::App& app);
  // Overlays the flags that were given onto `job` (a job file's JSON or {}). Throws FieldError.
  nlohmann::json apply(nlohmann::json job) const;
};

// "64M" -> 67108864, "1.5G", "4096", "512k". Throws std::invalid_argument naming the text.
uint64_t parse_size(const std::string& text);
// "500ms", "2s", "1.5m", "1500" (ms). Throws std::invalid_argument.
uint64_t parse_duration_ms(const std::string& text);
// Makes a relative host path absolute against the current directory.
std::string absolute_host_path(const std::string& path);

}  // namespace cellblock
