#include "executor/cell_launch.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include "executor/cell_init.h"
#include "executor/cgroup.h"
#include "executor/sys_error.h"

namespace cellblock {
namespace {

struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe(const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_sys(std::string("pipe2 for ") + what);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_sys("fcntl(O_NONBLOCK)");
}

// The job's stdin as a sealed memfd, reopened read-only: the command reads it like a file and
// cannot change what another reader of the same job would see. Empty stdin is /dev/null.
UniqueFd make_stdin(const std::string& data, int dev_null) {
  if (data.empty()) {
    UniqueFd fd(::fcntl(dev_null, F_DUPFD_CLOEXEC, 3));
    if (!fd) throw_sys("dup /dev/null for stdin");
    return fd;
  }
  UniqueFd mem(::memfd_create("cellblock-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) throw_sys("memfd_create for stdin");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(mem.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("write stdin memfd");
    done += static_cast<size_t>(n);
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    throw_sys("seal stdin memfd");
  std::string self = "/proc/self/fd/" + std::to_string(mem.get());
  UniqueFd ro(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ro) throw_sys("reopen stdin memfd read-only");
  return ro;
}

pid_t clone3(unsigned long long flags, int* pidfd, int cgroup_fd) {
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace

LaunchedCell launch_cell(const LaunchPlan& plan, const std::string& stdin_data, int dev_null, JobCgroup* cgroup) {
  Pipe report = make_pipe("report");
  Pipe out = make_pipe("stdout");
  Pipe err = make_pipe("stderr");
  UniqueFd in = make_stdin(stdin_data, dev_null);
  set_nonblocking(out.read.get());
  set_nonblocking(err.read.get());

  InitOptions options;
  find_supervisor_strings(options);
  // v2: the kernel places the child in the job cgroup at clone (CLONE_INTO_CGROUP), so the
  // cgroup namespace can be made right there. v1: the child joins by itself first thing.
  int into_fd = cgroup ? cgroup->clone_into_fd() : -1;
  bool placed_at_clone = into_fd >= 0;
  options.unshare_cgroup_ns = !placed_at_clone;
  if (cgroup && !placed_at_clone) {
    std::vector<int> join = cgroup->join_fds();
    if (join.size() > InitOptions::kMaxJoinFds) throw std::runtime_error("too many cgroup hierarchies to join");
    for (int fd : join) options.cgroup_join_fds[options.cgroup_join_count++] = fd;
  }

  CellFds fds{report.write.get(), in.get(), out.write.get(), err.write.get()};
  unsigned long long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  if (placed_at_clone) flags |= CLONE_NEWCGROUP;

  int pidfd = -1;
  pid_t pid = clone3(flags, &pidfd, into_fd);
  if (pid < 0) throw_sys("clone3(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)");
  if (pid == 0) run_cell_init(plan, fds, options);

  LaunchedCell cell;
  cell.pid = pid;
  cell.pidfd.reset(pidfd);
  cell.report_read = std::move(report.read);
  cell.stdout_read = std::move(out.read);
  cell.stderr_read = std::move(err.read);
  return cell;
}

}  // namespace cellblock
