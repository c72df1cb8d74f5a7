// go-judge's POST /run request (docs/go-judge.md), read strictly (jobs/format/json_reader.h):
// every key known, every value of the right type and range, and a FieldError naming the path
// ("cmd[0].copyIn.\"a.sh\".src"), the value and why. Nothing here touches the host: turning a
// cmd into a job and a working directory is run_job.h's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellblock::gojudge {

// A file the client hands in: inline text, a file of the store (file_store.h) by id, or a host
// file ({"src"}, e.g. a judge's test data), which the service reads only in the directories its
// operator allows (--allow-host-path, jobs/format/client_host_paths.h): checked and read by
// cmd_runner.cc, which has the service's context.
struct InputFile {
  std::optional<std::string> content;
  std::optional<std::string> file_id;
  std::optional<std::string> src;
  std::string src_field;  // "cmd[0].files[0].src", for the refusal
};

// files[1] / files[2]: the command's stdout or stderr, kept under `name`, at most `max` bytes.
struct Collector {
  std::string name;
  std::optional<uint64_t> max;  // none: the service's default output cap
};

// A copyOut or copyOutCached entry: "name", or "name?" when the file may be missing.
struct OutputName {
  std::string name;
  bool optional = false;
};

struct RunCmd {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // from "K=V" strings
  std::optional<InputFile> stdin_file;     // files[0]
  std::optional<Collector> stdout_collector, stderr_collector;
  // go-judge's units: ns and bytes. None: the service's --defaults.
  std::optional<uint64_t> cpu_limit_ns, clock_limit_ns, memory_limit_bytes, stack_limit_bytes, proc_limit;
  std::optional<uint64_t> cpu_rate_limit;  // thousandths of a CPU
  std::map<std::string, InputFile> copy_in;  // relative path in the working directory
  std::vector<OutputName> copy_out, copy_out_cached;
  std::optional<uint64_t> copy_out_max;
  // strictMemoryLimit / dataSegmentLimit and addressSpaceLimit: RLIMIT_DATA and RLIMIT_AS at the
  // memory limit (the cmd's, else the --defaults'), as go-judge sets them.
  bool data_segment_limit = false, address_space_limit = false;
};

// One end of a pipeMapping pipe: a cmd of the request (its index) and its fd.
struct PipeEnd {
  size_t index = 0;
  int fd = 0;
};

// go-judge's pipeMapping entry: `in`'s stdout is written into `out`'s stdin (pipe_mapping.h).
struct PipeMapping {
  PipeEnd in, out;
};

struct RunRequest {
  std::optional<std::string> request_id;
  std::vector<RunCmd> cmds;
  std::vector<PipeMapping> pipes;  // not empty: the cmds run together (a gang)
};

// Parses the body of POST /run. Throws FieldError.
RunRequest read_run_request(std::string_view body);


}  // namespace cellblock::gojudge
