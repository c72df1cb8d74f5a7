// The pipes of a /run request's pipeMapping (pipe_mapping.h), made on the host and handed to the
// cmds' jobs (executor/job_spec.h, HandedStdio): the writer's end as its stdout, the reader's as
// its stdin. Each end is held by its job alone, so that when one cell is gone the other sees
// end-of-file or EPIPE, as two processes joined by a shell pipe do.
#pragma once

#include <vector>

#include "jobs/gojudge/cmd_runner.h"
#include "jobs/gojudge/run_request.h"

namespace cellblock::gojudge {

// Throws SysError when the host has no pipe to give.
void join_by_pipes(const std::vector<PipeMapping>& pipes, std::vector<PreparedCmd>& cmds);

}  // namespace cellblock::gojudge
