#include "jobs/gojudge/cmd_pipes.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "executor/base/sys_error.h"

namespace cellblock::gojudge {

void join_by_pipes(const std::vector<PipeMapping>& pipes, std::vector<PreparedCmd>& cmds) {
  for (const PipeMapping& pipe : pipes) {
    // Close-on-exec like every host fd: only the cell it is handed to gets a copy.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_sys("pipe2 for pipeMapping");
    auto read_end = std::make_shared<const UniqueFd>(fds[0]);
    auto write_end = std::make_shared<const UniqueFd>(fds[1]);
    cmds.at(pipe.in.index).job.job.handed.stdout_write = std::move(write_end);
    cmds.at(pipe.out.index).job.job.handed.stdin_read = std::move(read_end);
  }
}

}  // namespace cellblock::gojudge
