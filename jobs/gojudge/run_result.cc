#include "jobs/gojudge/run_result.h"

#include <csignal>
#include <cmath>

namespace cellblock::gojudge {

using nlohmann::json;

json RunResult::to_json() const {
  json j{{"status", status},       {"exitStatus", exit_status}, {"time", time_ns},
         {"memory", memory_bytes}, {"runTime", run_time_ns},    {"files", files},
         {"fileIds", file_ids}};
  if (proc_peak) j["procPeak"] = proc_peak;
  if (!error.empty()) j["error"] = error;
  if (!file_errors.empty()) {
    json errors = json::array();
    for (const auto& e : file_errors) {
      json one{{"name", e.name}, {"type", e.type}};
      if (!e.message.empty()) one["message"] = e.message;
      errors.push_back(std::move(one));
    }
    j["fileError"] = std::move(errors);
  }
  return j;
}

RunResult from_native(const Result& r) {
  RunResult out;
  out.time_ns = static_cast<uint64_t>(std::llround(r.stats.cpu_time_ms * 1e6));
  out.run_time_ns = static_cast<uint64_t>(std::llround(r.stats.wall_time_ms * 1e6));
  out.memory_bytes = r.stats.memory_peak_bytes;
  out.proc_peak = r.stats.pids_peak;
  switch (r.status) {
    case Status::exited:
      out.exit_status = r.exit_code.value_or(0);
      out.status = out.exit_status == 0 ? "Accepted" : "Nonzero Exit Status";
      break;
    case Status::signaled:
      // go-judge reports the signal's number as the exit status. A seccomp kill is SIGSYS.
      out.exit_status = r.signal.value_or(0);
      out.status = out.exit_status == SIGSYS ? "Dangerous Syscall" : "Signalled";
      break;
    case Status::wall_time_limit:
    case Status::cpu_time_limit:
      out.status = "Time Limit Exceeded";
      break;
    case Status::memory_limit:
      out.status = "Memory Limit Exceeded";
      break;
    case Status::output_limit:
      out.status = "Output Limit Exceeded";
      break;
    case Status::setup_error:
    case Status::internal_error:
    case Status::cancelled:
    case Status::queue_timeout:
    case Status::invalid_job:
      out.status = "Internal Error";
      out.error = std::string(to_string(r.status)) + (r.error ? ": " + *r.error : "");
      break;
  }
  return out;
}

RunResult file_error_result(FileError error) {
  RunResult out;
  out.status = "File Error";
  out.error = error.name + ": " + error.message;
  out.file_errors.push_back(std::move(error));
  return out;
}

}  // namespace cellblock::gojudge
