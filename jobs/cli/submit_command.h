// `cellblock submit --redis URL --queue NAME [--wait] jobs.jsonl|-`: adds jobs to a Redis queue
// for `cellblock worker`s, and with --wait prints their results as JSON lines as they come, the
// way `cellblock batch` does.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace cellblock {

struct SubmitOptions {
  std::string redis;
  std::string queue;
  std::string input = "-";
  std::optional<std::string> out_file;
  bool wait = false;
  bool quiet = false;
  std::string job_ttl = "24h";  // NAME:job:<id>, as `serve --redis --job-ttl`
  std::optional<std::string> cancel;  // a job id: cancel it wherever it runs, add nothing
};

void add_submit_command(CLI::App& app, SubmitOptions& options);
// 0 when every job was added (an id taken in the queue already is an invalid_job result, and the
// others go on) (and with --wait, every result came, whatever its status); 2 when
// the input cannot be read or two jobs share an id; 1 when Redis cannot be reached; 128 + the
// signal's number when SIGINT or SIGTERM stopped the wait.
int submit_command(const SubmitOptions& options);

}  // namespace cellblock
