#include "executor/cell/cell_init.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <utility>

#include "executor/protocol/cell_report.h"
#include "executor/cell/child_error.h"
#include "executor/cell/network.h"
#include "executor/cell/payload.h"
#include "executor/cell/rootfs.h"

namespace cellblock {
namespace {

[[noreturn]] void die(const CellFds& fds, const ChildError& e) noexcept {
  send_setup_error(fds.report_write, e.what, e.err);
  ::_exit(1);
}

// Closes every descriptor except `keep` (at most 8, unsorted), with close_range over the gaps.
void close_all_except(int* keep, int n) noexcept {
  for (int i = 1; i < n; ++i)  // insertion sort: tiny n, no allocation
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned next = 0;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < 0) continue;
    unsigned fd = static_cast<unsigned>(keep[i]);
    if (fd > next) ::syscall(SYS_close_range, next, fd - 1, 0u);
    next = fd + 1;
  }
  ::syscall(SYS_close_range, next, ~0u, 0u);
}

// PR_SET_PDEATHSIG only covers a supervisor that dies from now on. If it is already gone, the
// read end of the report pipe is closed: nobody would ever collect this cell.
void exit_if_orphaned(const CellFds& fds) noexcept {
  pollfd p{fds.report_write, POLLOUT, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) ::_exit(1);
}

// A pipe whose ends are above 2: the init has closed 0..2, and the command is about to put its
// stdin, stdout and stderr there.
bool pipe_above_stdio(int ends[2]) noexcept {
  if (::pipe2(ends, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    if (ends[i] > 2) continue;
    int moved = ::fcntl(ends[i], F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return false;
    ::close(ends[i]);
    ends[i] = moved;
  }
  return true;
}

bool make_userns_pipes(UsernsSync& sync, ChildError& e) noexcept {
  int ready[2], mapped[2];
  if (!pipe_above_stdio(ready) || !pipe_above_stdio(mapped))
    return e.fail([](ChildText& t) { t.add("pipe2 for the user namespace handshake"); });
  sync = {ready[1], ready[0], mapped[1], mapped[0]};
  return true;
}

bool write_proc_file(pid_t pid, const char* file, const char* text, ChildError& e) noexcept {
  char path[64];
  ChildText(path, sizeof path).add("/proc/").number(pid).add("/").add(file);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  size_t len = 0;
  while (text[len]) ++len;
  bool ok = fd >= 0 && ::write(fd, text, len) == static_cast<ssize_t>(len);
  int saved = errno;
  if (fd >= 0) ::close(fd);
  errno = saved;
  if (!ok) return e.fail([&](ChildText& t) { t.add("write ").quoted(text).add(" to ").add(path); });
  return true;
}

// The init's half of the handshake: once the command has unshared its user namespace, deny
// setgroups there (before gid_map, as the kernel requires for that to hold) and write the maps.
bool map_user_namespace(const LaunchPlan& plan, pid_t payload, const UsernsSync& sync, ChildError& e) noexcept {
  ::close(sync.ready_write);
  ::close(sync.mapped_read);
  char byte;
  ssize_t n;
  do n = ::read(sync.ready_read, &byte, 1); while (n < 0 && errno == EINTR);
  ::close(sync.ready_read);
  if (n != 1) return false;  // the command failed before unsharing and has reported why
  if (!write_proc_file(payload, "setgroups", "deny", e) || !write_proc_file(payload, "uid_map", plan.uid_map.c_str(), e) ||
      !write_proc_file(payload, "gid_map", plan.gid_map.c_str(), e))
    return false;
  byte = 'm';
  bool ok = ::write(sync.mapped_write, &byte, 1) == 1;
  ::close(sync.mapped_write);
  return ok || e.fail([](ChildText& t) { t.add("tell the command its ids are mapped"); });
}

pid_t fork_payload(const LaunchPlan& plan, const CellFds& fds, const UsernsSync& userns, int cell_ready,
                   ChildError& e) noexcept {
  pid_t payload = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (payload < 0) {
    e.fail([](ChildText& t) { t.add("fork the command"); });
    die(fds, e);
  }
  if (payload == 0) exec_payload(plan, fds, userns, cell_ready);
  return payload;
}

bool is_forwarded(int sig) noexcept {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 || sig == SIGUSR2;
}

// Kills whatever is left in the pid namespace and reaps it all. kill(-1) from a namespace's
// init reaches every other process in it; fork() fails once SIGKILL is pending, so a fork bomb
// cannot outrun it, but we repeat until nothing is left to reap.
// kill(-1) walks every process of the host, not just the cell's, so it is sent once per batch
// of reaps rather than once per reap (which made N left-over processes cost N^2). One signal
// is enough in principle: a fork racing with it fails (a child is never linked in once its parent
// has a fatal signal pending). The repeat every 1024 reaps is a cheap guard all the same.
void kill_and_reap_all() noexcept {
  for (;;) {
    ::kill(-1, SIGKILL);
    for (int reaped = 0; reaped < 1024;) {
      int status;
      pid_t p = ::waitpid(-1, &status, 0);
      if (p > 0) ++reaped;
      else if (errno == ECHILD) return;
    }
  }
}

}  // namespace

void run_cell_init(const CellPlan& cell) noexcept {
  const LaunchPlan& plan = cell.plan;
  const CellFds& fds = cell.fds;
  CellTimings steps{};
  steps.at[init_started] = monotonic_ns();
  ChildError e;
  int keep[] = {fds.report_write, fds.stdin_read, fds.stdout_write, fds.stderr_write};
  close_all_except(keep, 4);

  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  exit_if_orphaned(fds);

  if (cell.unshare_cgroup_ns && ::unshare(CLONE_NEWCGROUP) != 0) {
    e.fail([](ChildText& t) { t.add("unshare(CLONE_NEWCGROUP)"); });
    die(fds, e);
  }

  // Every signal is blocked and taken with sigwaitinfo(): nothing can interrupt the loop, and
  // a blocked signal from the supervisor still reaches a namespace init (it is not "ignored").
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);

  // Without a user namespace the command is forked now, so that its set-up (the seccomp load
  // costs as much as the mounts) runs beside the file system's; it waits for `ready` below.
  pid_t payload = -1;
  int ready[2] = {-1, -1};
  if (!plan.user_namespace) {
    if (!pipe_above_stdio(ready)) {
      e.fail([](ChildText& t) { t.add("pipe2 for the cell-ready signal"); });
      die(fds, e);
    }
    payload = fork_payload(plan, fds, UsernsSync{}, ready[0], e);
    steps.at[payload_forked] = monotonic_ns();
    ::close(ready[0]);
  }

  ::umask(0);  // modes below are exact; the command sets 022 for itself
  if (!build_rootfs(plan, e)) die(fds, e);
  steps.at[rootfs_built] = monotonic_ns();
  if (::sethostname(plan.hostname.data(), plan.hostname.size()) != 0) {
    e.fail([&](ChildText& t) { t.add("sethostname ").quoted(plan.hostname.c_str()); });
    die(fds, e);
  }
  if (!cell.loopback_up && !bring_up_loopback(e)) die(fds, e);
  steps.at[network_up] = monotonic_ns();

  ::prctl(PR_SET_DUMPABLE, 0);

  UsernsSync userns;
  if (payload > 0) {
    char byte = 'r';
    if (::write(ready[1], &byte, 1) != 1) {
      e.fail([](ChildText& t) { t.add("tell the command the cell is ready"); });
      die(fds, e);
    }
    ::close(ready[1]);
  } else {
    if (!make_userns_pipes(userns, e)) die(fds, e);
    payload = fork_payload(plan, fds, userns, -1, e);
    steps.at[payload_forked] = monotonic_ns();
  }

  ::close(fds.stdin_read);
  ::close(fds.stdout_write);
  ::close(fds.stderr_write);
  if (plan.user_namespace && !map_user_namespace(plan, payload, userns, e) && e.err) {
    send_setup_error(fds.report_write, e.what, e.err);
    kill_and_reap_all();
    ::_exit(1);
  }

  for (;;) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      int status;
      pid_t p;
      while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (p != payload) continue;  // an orphan or zombie re-parented to us: reaped, done
        steps.at[payload_exited] = monotonic_ns();
        kill_and_reap_all();
        steps.at[all_reaped] = monotonic_ns();
        CellReport r{};
        r.kind = CellReport::payload_exit;
        r.wait_status = status;
        r.cpu_ns = process_cpu_ns();
        if (plan.breakdown) r.steps = steps;
        send_report(fds.report_write, r);
        ::_exit(0);
      }
    } else if (is_forwarded(sig) && info.si_pid == 0) {
      // si_pid is 0 for a signal from an ancestor namespace, i.e. the supervisor or the host.
      ::kill(payload, sig);
    }
  }
}

}  // namespace cellblock
