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

#include "executor/protocol/cell_report.h"
#include "executor/cell/child_error.h"
#include "executor/cell/net_apply.h"
#include "executor/cell/command.h"
#include "executor/cell/handshake.h"
#include "executor/cell/rootfs.h"
#include "executor/cell/time_apply.h"

namespace cellblock {
namespace {

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

// The init's steps (docs/executor.md, step 4), one method each. A step either does its work or
// reports a setup error and exits; its timing stamp is taken inside it.
class CellInit {
 public:
  explicit CellInit(const CellPlan& cell) noexcept : plan_(cell.plan), cell_(cell), fds_(cell.fds) {
    stamp(init_started);
  }

  // 1. Only the cell's descriptors: the supervisor's own 0, 1, 2 go.
  void keep_only_cell_fds() noexcept {
    int keep[] = {fds_.report_write, fds_.stdin_read, fds_.stdout_write, fds_.stderr_write, fds_.go_read};
    close_all_except(keep, 5);
  }

  // 2. Die with the supervisor, and exit if it is already gone.
  void die_with_supervisor() noexcept {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    exit_if_orphaned(fds_);
  }

  // 3. v1: a cgroup namespace rooted at the job's cgroup (on v2 clone3 made it).
  void enter_cgroup_namespace() noexcept {
    if (cell_.unshare_cgroup_ns && ::unshare(CLONE_NEWCGROUP) != 0)
      fail([](ChildText& t) { t.add("unshare(CLONE_NEWCGROUP)"); });
  }

  // 4. Every signal blocked and taken with sigwaitinfo(): nothing can interrupt the loop, and a
  //    blocked signal from the supervisor still reaches a namespace init (it is not "ignored").
  void block_signals() noexcept {
    sigfillset(&all_);
    ::sigprocmask(SIG_SETMASK, &all_, nullptr);
  }

  // 4a. "time_namespace": the clocks of every process forked from here start near 0
  //     (time_apply.h); the init itself stays in the host's time namespace.
  void enter_time_namespace_for_children() noexcept {
    if (plan_.time_namespace && !enter_time_namespace(e_)) die();
  }

  // 4b. With prestart hooks (CellFds::go_read): the cell's namespaces all exist now (the cgroup's
  //     since step 3), so the supervisor is told and runs its hooks beside the steps below;
  //     the command waits for its go (step 8).
  void announce_namespaces() noexcept {
    if (fds_.go_read < 0) return;
    CellReport r{};
    r.kind = CellReport::namespaces_ready;
    send_report(fds_.report_write, r);
  }

  // 5. Without a user namespace, the command now, so that its set-up (the seccomp load costs as
  //    much as the mounts) runs beside the file system's; it waits for cell_ready (step 8).
  void fork_command_early() noexcept {
    if (plan_.user_namespace) return;
    if (!cell_ready_.open()) fail([](ChildText& t) { t.add("pipe2 for the cell-ready handshake"); });
    fork_command(nullptr, &cell_ready_);
    cell_ready_.close_receiving_end();
  }

  // 6. The file system (rootfs.h), the hostname, loopback (unless the pooled namespace has it up).
  void build_file_system() noexcept {
    ::umask(0);  // modes below are exact; the command sets 022 for itself
    if (!build_rootfs(plan_, e_)) die();
    stamp(rootfs_built);
    if (::sethostname(plan_.hostname.data(), plan_.hostname.size()) != 0)
      fail([&](ChildText& t) { t.add("sethostname ").quoted(plan_.hostname.c_str()); });
    if (!cell_.loopback_up && !bring_up_loopback(e_)) die();
    stamp(network_up);
  }

  // 7 is the command's own set-up (command.h). 8. Not dumpable (the command cannot open
  //    /proc/1/mem or /proc/1/exe); then the command goes: an early one is told the cell is ready,
  //    otherwise it is forked now and its user namespace mapped.
  void start_command() noexcept {
    ::prctl(PR_SET_DUMPABLE, 0);
    wait_for_go();
    if (command_ > 0) {
      if (!cell_ready_.send(CellMessage::cell_ready)) fail([](ChildText& t) { t.add("tell the command the cell is ready"); });
    } else {
      if (!userns_.ready.open() || !userns_.mapped.open())
        fail([](ChildText& t) { t.add("pipe2 for the user namespace handshake"); });
      fork_command(&userns_, nullptr);
    }
    ::close(fds_.stdin_read);
    ::close(fds_.stdout_write);
    ::close(fds_.stderr_write);
    if (plan_.user_namespace && !map_user_namespace()) {
      send_setup_error(fds_.report_write, e_.what, e_.err);
      kill_and_reap_all();
      ::_exit(1);
    }
    report_cpu_so_far();
  }

  // 9. Reap every child; forward TERM/INT/HUP/QUIT/USR1/USR2 from outside the cell to the
  //    command; when the command exits, kill what is left, reap it, report its status, exit.
  [[noreturn]] void reap_until_command_exits() noexcept {
    for (;;) {
      siginfo_t info;
      int sig = ::sigwaitinfo(&all_, &info);
      if (sig < 0) continue;
      if (sig == SIGCHLD) {
        int status;
        pid_t p;
        while ((p = ::waitpid(-1, &status, WNOHANG)) > 0)
          if (p == command_) report_and_exit(status);  // else an orphan or zombie re-parented to us: reaped
      } else if (is_forwarded(sig) && info.si_pid == 0) {
        // si_pid is 0 for a signal from an ancestor namespace, i.e. the supervisor or the host.
        ::kill(command_, sig);
      }
    }
  }

 private:
  void stamp(CellStep step) noexcept { steps_.at[step] = monotonic_ns(); }

  [[noreturn]] void die() noexcept {
    send_setup_error(fds_.report_write, e_.what, e_.err);
    ::_exit(1);
  }
  template <typename Describe>
  void fail(Describe&& describe) noexcept {
    e_.fail(describe);
    die();
  }

  // The supervisor's go after its prestart hooks. End-of-file means it will not come (a hook
  // failed and the supervisor is killing the cell): the command never starts.
  void wait_for_go() noexcept {
    if (fds_.go_read < 0) return;
    const int err = receive_message(fds_.go_read, CellMessage::go);
    ::close(fds_.go_read);
    if (err != 0) {
      errno = err;
      fail([](ChildText& t) { t.add("wait for the supervisor's go after the prestart hooks"); });
    }
  }

  void fork_command(UsernsHandshake* userns, Handshake* cell_ready) noexcept {
    command_ = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (command_ < 0) fail([](ChildText& t) { t.add("fork the command"); });
    if (command_ == 0) exec_command(plan_, fds_, userns, cell_ready);
    stamp(command_forked);
  }

  // The init's half of the user-namespace handshake: once the command has unshared its user
  // namespace, deny setgroups there (before gid_map, as the kernel requires for that to hold)
  // and write the maps. False with e_ filled when a step failed. A command that ended before
  // asking has reported why itself: nothing to map, and the reap loop collects it.
  bool map_user_namespace() noexcept {
    userns_.ready.close_sending_end();
    userns_.mapped.close_receiving_end();
    if (userns_.ready.wait(CellMessage::userns_ready) != 0) return true;
    if (!write_proc_file(command_, "setgroups", "deny", e_) ||
        !write_proc_file(command_, "uid_map", plan_.uid_map.c_str(), e_) ||
        !write_proc_file(command_, "gid_map", plan_.gid_map.c_str(), e_))
      return false;
    return userns_.mapped.send(CellMessage::ids_mapped) ||
           e_.fail([](ChildText& t) { t.add("tell the command its ids are mapped"); });
  }

  // The init's CPU time up to the command's start, which the cgroup counts as the job's: sent now
  // so that the supervisor leaves it out of the CPU-time limit while the job runs, not only out
  // of the result. Building the file system costs about 2 ms on a host, but hundreds of ms in an
  // emulated or crowded machine, which would otherwise eat a judge's limit before the command ran.
  void report_cpu_so_far() noexcept {
    CellReport r{};
    r.kind = CellReport::timings;
    r.cpu_ns = process_cpu_ns();
    cpu_reported_ns_ = r.cpu_ns;
    send_report(fds_.report_write, r);
  }

  [[noreturn]] void report_and_exit(int wait_status) noexcept {
    stamp(command_exited);
    kill_and_reap_all();
    stamp(all_reaped);
    CellReport r{};
    r.kind = CellReport::command_exit;
    r.wait_status = wait_status;
    r.cpu_ns = process_cpu_ns() - cpu_reported_ns_;  // what report_cpu_so_far() did not send
    if (plan_.breakdown) r.steps = steps_;
    send_report(fds_.report_write, r);
    ::_exit(0);
  }

  const LaunchPlan& plan_;
  const CellPlan& cell_;
  const CellFds& fds_;
  CellTimings steps_{};
  ChildError e_;
  sigset_t all_;
  pid_t command_ = -1;
  uint64_t cpu_reported_ns_ = 0;
  Handshake cell_ready_;
  UsernsHandshake userns_;
};

}  // namespace

void run_cell_init(const CellPlan& cell) noexcept {
  CellInit init(cell);
  init.keep_only_cell_fds();
  init.die_with_supervisor();
  init.enter_cgroup_namespace();
  init.block_signals();
  init.enter_time_namespace_for_children();
  init.announce_namespaces();
  init.fork_command_early();
  init.build_file_system();
  init.start_command();
  init.reap_until_command_exits();
}

}  // namespace cellblock
