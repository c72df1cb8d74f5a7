#include "executor/launch.h"

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

#include "executor/protocol/cell_plan_codec.h"
#include "executor/protocol/cell_report.h"
#include "executor/clone_vfork.h"
#include "executor/base/host_file.h"
#include "executor/cgroup/cgroup.h"
#include "executor/base/sys_error.h"

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

// A fd handed to the cell (HandedStdio): the launch's own close-on-exec copy, closed once the
// init has it, like the pipes made here.
UniqueFd dup_handed(int fd, const char* what) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy) throw_sys(std::string("dup the handed ") + what);
  return copy;
}

// The plan for the init, in a memfd it reads with pread.
UniqueFd make_plan_fd(const std::string& bytes) {
  UniqueFd fd(::memfd_create("cellblock-plan", MFD_CLOEXEC));
  if (!fd) throw_sys("memfd_create for the cell plan");
  write_all(fd.get(), bytes, "the cell plan memfd");
  return fd;
}

// What the vfork child needs; everything prepared by the parent, nothing allocated in the child.
struct InitExec {
  int netns_fd;                      // a fresh network namespace from the pool, or -1
  int ipcns_fd;                      // a pod's IPC namespace, or -1
  const std::vector<int>* join_fds;  // v1: the job's tasks files
  int pass_fds[6];                   // stay open across exec for the init (-1: none)
  int image_fd;
  char* const* argv;
  int report_fd;
};

// The child between clone3 and the init's exec: join the cgroup (v1), let the init's
// descriptors survive exec, exec the init. Shares the parent's memory: system calls only.
int exec_init(void* arg) {
  const InitExec& x = *static_cast<const InitExec*>(arg);
  if (x.netns_fd >= 0 && ::setns(x.netns_fd, CLONE_NEWNET) != 0) {
    send_setup_error(x.report_fd, "setns to a fresh network namespace", errno);
    return 1;
  }
  if (x.ipcns_fd >= 0 && ::setns(x.ipcns_fd, CLONE_NEWIPC) != 0) {
    send_setup_error(x.report_fd, "setns to the pod's IPC namespace", errno);
    return 1;
  }
  for (int fd : *x.join_fds)
    if (::write(fd, "0", 1) != 1) {
      // A task moving itself into a v1 cgroup skips the global threadgroup lock (and its RCU
      // grace period) that moving another process takes.
      send_setup_error(x.report_fd, "join the job's cgroup (write \"0\" to tasks)", errno);
      return 1;
    }
  // The init in its own process group: a Ctrl-C on the terminal signals the supervisor's whole
  // group, and the init would forward the SIGINT to the command at once instead of leaving the
  // decision to the supervisor (cellblock batch: a grace period). The command is in its own
  // session already (command.cc).
  if (::setpgid(0, 0) != 0) {
    send_setup_error(x.report_fd, "setpgid for the cell's init", errno);
    return 1;
  }
  for (int fd : x.pass_fds)
    if (fd >= 0 && ::fcntl(fd, F_SETFD, 0) != 0) {
      send_setup_error(x.report_fd, "clear FD_CLOEXEC for the cell's init", errno);
      return 1;
    }
  static char* const no_env[] = {nullptr};
  ::syscall(SYS_execveat, x.image_fd, "", x.argv, no_env, AT_EMPTY_PATH);
  send_setup_error(x.report_fd, "exec the cell's init (cellblock-init)", errno);
  return 127;
}

}  // namespace

LaunchedCell launch_cell(CellLaunch launch) {
  const LaunchPlan& plan = launch.plan;
  JobCgroup* cgroup = launch.cgroup;
  const UniqueFd& netns = launch.netns;
  Pipe report = make_pipe("report");
  Pipe out = launch.stdout_write >= 0 ? Pipe{UniqueFd(), dup_handed(launch.stdout_write, "stdout")} : make_pipe("stdout");
  Pipe err = make_pipe("stderr");
  Pipe go = launch.wait_for_go ? make_pipe("the prestart go") : Pipe{};
  UniqueFd in = launch.stdin_read >= 0 ? dup_handed(launch.stdin_read, "stdin")
                                       : make_stdin(launch.stdin_data, launch.dev_null);
  if (out.read) set_nonblocking(out.read.get());
  set_nonblocking(err.read.get());

  // v2: the kernel places the child in the job cgroup at clone (CLONE_INTO_CGROUP), so the
  // cgroup namespace can be made right there. v1: the child joins by itself before exec.
  int into_fd = cgroup ? cgroup->clone_into_fd() : -1;
  const bool placed_at_clone = into_fd >= 0;
  const std::vector<int> join_fds = cgroup && !placed_at_clone ? cgroup->join_fds() : std::vector<int>{};

  CellFds fds{report.write.get(), in.get(), out.write.get(), err.write.get(), go.read.get()};
  UniqueFd plan_fd = make_plan_fd(encode_cell_plan(plan, fds, !placed_at_clone, netns.valid()));
  std::string plan_arg = std::to_string(plan_fd.get());
  std::string init_name = "cellblock-init";
  char* init_argv[] = {init_name.data(), plan_arg.data(), nullptr};
  InitExec x{netns.get(),
             launch.ipcns,
             &join_fds,
             {fds.report_write, fds.stdin_read, fds.stdout_write, fds.stderr_write, plan_fd.get(), fds.go_read},
             launch.init_image,
             init_argv,
             fds.report_write};

  clone_args args{};
  args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_PIDFD;
  if (!netns) args.flags |= CLONE_NEWNET;
  if (launch.ipcns < 0) args.flags |= CLONE_NEWIPC;
  int pidfd = -1;
  args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (placed_at_clone) {
    args.flags |= CLONE_INTO_CGROUP | CLONE_NEWCGROUP;
    args.cgroup = static_cast<uint64_t>(into_fd);
  }
  pid_t pid = clone3_vfork(args, exec_init, &x);
  if (pid < 0) throw_sys("clone3(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)");
  // clone3_vfork returns once the child has exec'd the init, which it does after joining.
  if (cgroup && !placed_at_clone) cgroup->joined();

  LaunchedCell cell;
  cell.pid = pid;
  cell.pidfd.reset(pidfd);
  cell.report_read = std::move(report.read);
  cell.stdout_read = std::move(out.read);
  cell.stderr_read = std::move(err.read);
  cell.go_write = std::move(go.write);
  return cell;
}

}  // namespace cellblock
