// One entry of go-judge's /run answer: a native Result (executor/result.h) in go-judge's
// words and units (docs/go-judge.md, "Status"): status strings as go-judge spells them, time
// and runTime in ns, memory in bytes, and the files the cmd kept.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/result.h"

namespace cellblock::gojudge {

// go-judge's fileError entry: `type` is one of go-judge's names ("CopyOutOpen",
// "CopyOutNotRegularFile", "CopyOutSizeExceeded", "CopyInOpenFile", "CopyInCreateFile", ...).
struct FileError {
  std::string name;
  std::string type;
  std::string message;
};

struct RunResult {
  std::string status = "Internal Error";
  int exit_status = 0;
  std::string error;
  uint64_t time_ns = 0;
  uint64_t memory_bytes = 0;
  uint64_t run_time_ns = 0;
  uint64_t proc_peak = 0;
  std::map<std::string, std::string> files;     // name -> content
  std::map<std::string, std::string> file_ids;  // name -> id in the file store
  std::vector<FileError> file_errors;

  nlohmann::json to_json() const;
};

// The status, exit status, error and measures of a job that ran (or could not start).
RunResult from_native(const Result& result);

// A cmd that never ran: its files could not be prepared. Status "File Error".
RunResult file_error_result(FileError error);

}  // namespace cellblock::gojudge
