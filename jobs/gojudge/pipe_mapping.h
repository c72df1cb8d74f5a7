// go-judge's pipeMapping (docs/go-judge.md, "Pipes"): the stdout of one cmd of a /run request
// joined to the stdin of another, both running at once, each in its own cell: an interactor
// and a solution. Read strictly here, against the request's cmds; the pipes themselves are
// made by join_by_pipes (cmd_pipes.h) just before the cmds are queued together.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "jobs/gojudge/run_request.h"

namespace cellblock::gojudge {

// Reads `pipeMapping` (the value under that key) for `cmds`, already read. Throws FieldError
// naming the field and the value: an index that is not a cmd, an fd that is not the writer's
// stdout (in) or the reader's stdin (out), an fd that is in two pipes or has a files[] entry
// of its own, a pipe from a cmd to itself, and go-judge's proxy, name and max (not supported).
std::vector<PipeMapping> read_pipe_mapping(const nlohmann::json& v, const std::vector<RunCmd>& cmds);

}  // namespace cellblock::gojudge
