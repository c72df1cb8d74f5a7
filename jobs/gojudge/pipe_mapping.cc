#include "jobs/gojudge/pipe_mapping.h"

#include <map>
#include <string>
#include <utility>

#include "jobs/format/json_reader.h"

namespace cellblock::gojudge {
namespace {

using nlohmann::json;

// The one fd each end may be: cellblock hands a pipe end to a cell as its stdin or its stdout.
constexpr int kInFd = 1;   // the writer's stdout
constexpr int kOutFd = 0;  // the reader's stdin

PipeEnd read_end(const json& v, const std::string& path, size_t cmds, int fd_allowed, const char* what) {
  require_object(v, path, {"index", "fd"});
  PipeEnd end;
  const std::string index_field = key_path(path, "index");
  const json& index = require_key(v, path, "index");
  if (!index.is_number_unsigned() || index.get<uint64_t>() >= cmds)
    throw FieldError(index_field, describe(index) + " is not a cmd: the request has " + std::to_string(cmds) +
                                      " (index 0 to " + std::to_string(cmds - 1) + ")");
  end.index = index.get<size_t>();
  const std::string fd_field = key_path(path, "fd");
  const json& fd = require_key(v, path, "fd");
  if (!fd.is_number_integer() || fd != fd_allowed)
    throw FieldError(fd_field, describe(fd) + ": cellblock joins a cmd's " + what + " (fd " +
                                   std::to_string(fd_allowed) + ") only");
  end.fd = fd_allowed;
  return end;
}

// go-judge's proxy copies the pipe through the server and can keep what went through under
// `name` (at most `max` bytes). cellblock joins the cells directly; asked for, it says so.
void refuse_proxy(const json& v, const std::string& path) {
  for (const char* k : {"proxy", "name", "max"}) {
    if (!v.contains(k)) continue;
    const json& o = v[k];
    if (o.is_null() || o == false || o == 0 || o == "") continue;  // go-judge's "not asked for"
    throw FieldError(key_path(path, k), describe(o) + ": cellblock joins the cmds directly, without go-judge's proxy "
                                                      "that copies and records a pipe (docs/go-judge.md)");
  }
}

// Whether the cmd has its own files[] entry at that fd, which the pipe would replace.
bool has_own_file(const RunCmd& cmd, int fd) { return fd == 0 ? cmd.stdin_file.has_value() : cmd.stdout_collector.has_value(); }

}  // namespace

std::vector<PipeMapping> read_pipe_mapping(const json& v, const std::vector<RunCmd>& cmds) {
  std::vector<PipeMapping> pipes;
  if (v.is_null()) return pipes;
  require_array(v, "pipeMapping", "pipes {\"in\": {\"index\", \"fd\"}, \"out\": {\"index\", \"fd\"}}");
  std::map<std::pair<size_t, int>, std::string> used;  // (cmd, fd) -> the end that has it
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string path = index_path("pipeMapping", i);
    require_object(v[i], path, {"in", "out", "proxy", "name", "max"});
    refuse_proxy(v[i], path);
    PipeMapping pipe;
    pipe.in = read_end(require_key(v[i], path, "in"), key_path(path, "in"), cmds.size(), kInFd, "stdout");
    pipe.out = read_end(require_key(v[i], path, "out"), key_path(path, "out"), cmds.size(), kOutFd, "stdin");
    if (pipe.in.index == pipe.out.index)
      throw FieldError(path, "joins cmd[" + std::to_string(pipe.in.index) +
                                 "] to itself: a pipe joins two cmds that run at the same time");
    for (auto [end, name] : {std::pair{pipe.in, "in"}, std::pair{pipe.out, "out"}}) {
      const std::string field = key_path(path, name);
      const std::string fd = "cmd[" + std::to_string(end.index) + "] fd " + std::to_string(end.fd);
      if (auto [it, fresh] = used.emplace(std::pair{end.index, end.fd}, field); !fresh)
        throw FieldError(field, fd + " is in " + it->second + " already: an fd is one end of one pipe");
      if (has_own_file(cmds[end.index], end.fd))
        throw FieldError(index_path("cmd[" + std::to_string(end.index) + "].files", static_cast<size_t>(end.fd)),
                         "is given, but " + fd + " is " + field + ": give null there");
    }
    pipes.push_back(pipe);
  }
  return pipes;
}

}  // namespace cellblock::gojudge
