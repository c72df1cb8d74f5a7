#include "executor/cell/command.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "executor/protocol/cell_report.h"
#include "executor/cell/child_error.h"
#include "executor/cell/policy_apply.h"
#include "executor/cell/time_apply.h"

namespace cellblock {
namespace {

[[noreturn]] void die(const CellFds& fds, const ChildError& e) noexcept {
  send_setup_error(fds.report_write, e.what, e.err);
  ::_exit(127);
}

void reset_signals() noexcept {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL for KILL/STOP: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

bool move_fd(int from, int to, ChildError& e) noexcept {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0 || e.fail([&](ChildText& t) { t.add("fcntl(F_SETFD)"); });
  if (::dup2(from, to) < 0) return e.fail([&](ChildText& t) { t.add("dup2 to fd ").number(to); });
  return true;
}

bool enter_cwd(const LaunchPlan& plan, ChildError& e) noexcept {
  if (::chdir(plan.cwd.c_str()) != 0) return e.fail([&](ChildText& t) { t.add("chdir ").quoted(plan.cwd.c_str()); });
  // A directory fd leaked from outside would make getcwd() report "(unreachable)/...";
  // refuse to run with a working directory outside the cell's root.
  char buf[256];
  long n = ::syscall(SYS_getcwd, buf, sizeof buf);
  if (n > 0 && buf[0] != '/') {
    errno = EXDEV;
    return e.fail([&](ChildText& t) { t.add("working directory ").quoted(plan.cwd.c_str()).add(" is outside the cell"); });
  }
  return true;
}

bool enter_user_namespace(UsernsHandshake& h, ChildError& e) noexcept {
  h.ready.close_receiving_end();
  h.mapped.close_sending_end();
  // Supplementary groups first, while that is still allowed: inside, setgroups is denied, and
  // a host group kept here would still grant access to host files (CVE-2014-8989).
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return e.fail([](ChildText& t) { t.add("setgroups(0)"); });
  if (::unshare(CLONE_NEWUSER) != 0) return e.fail([](ChildText& t) { t.add("unshare(CLONE_NEWUSER)"); });
  if (!h.ready.send(CellMessage::userns_ready)) return e.fail([](ChildText& t) { t.add("tell the init to map ids"); });
  if (int err = h.mapped.wait(CellMessage::ids_mapped)) {
    errno = err;
    return e.fail([](ChildText& t) { t.add("wait for the uid/gid maps"); });
  }
  // Still host uid 0, which the namespace does not map; become the namespace's root, i.e. the
  // first uid and gid of the host range.
  if (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)
    return e.fail([](ChildText& t) { t.add("become root of the user namespace"); });
  return true;
}

// The policy (executor/cell/policy_apply.h), last before exec.
bool apply_security(const PlannedSecurity& s, ChildError& e) noexcept {
  const char* failed_call = "apply the policy";
  sock_fprog prog{static_cast<unsigned short>(s.seccomp.size()), const_cast<sock_filter*>(s.seccomp.data())};
  if (int err = apply_policy(s.capabilities, s.no_new_privs, &prog, &failed_call)) {
    errno = err;
    return e.fail([&](ChildText& t) { t.add(failed_call).add(" (policy ").quoted(s.policy_name.c_str()).add(")"); });
  }
  return true;
}

// The command's stamps on the supervisor's clock: in a time namespace its own CLOCK_MONOTONIC
// starts near 0 (time_apply.h).
uint64_t host_monotonic_ns() noexcept { return monotonic_ns() + time_namespace_offset_ns(); }

}  // namespace

void exec_command(const LaunchPlan& plan, const CellFds& fds, UsernsHandshake* userns, Handshake* cell_ready) noexcept {
  CellReport stamps{};
  stamps.kind = CellReport::timings;
  stamps.steps.at[command_started] = host_monotonic_ns();
  ChildError e;
  reset_signals();
  ::setsid();
  ::umask(022);

  // Order matters when a source fd number is one of 0..2: dup2 the ones that are not first.
  int sources[3] = {fds.stdin_read, fds.stdout_write, fds.stderr_write};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (i != j && sources[j] == i) {
        int moved = ::fcntl(sources[j], F_DUPFD_CLOEXEC, 3);
        if (moved < 0) {
          e.fail([](ChildText& t) { t.add("fcntl(F_DUPFD_CLOEXEC)"); });
          die(fds, e);
        }
        sources[j] = moved;
      }
  for (int i = 0; i < 3; ++i)
    if (!move_fd(sources[i], i, e)) die(fds, e);

  for (const PlannedRlimit& r : plan.rlimits)
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.value) != 0) {
      e.fail([&](ChildText& t) { t.add("setrlimit(").number(r.resource).add(")"); });
      die(fds, e);
    }

  if (cell_ready) {
    cell_ready->close_sending_end();
  } else {
    if (!enter_cwd(plan, e)) die(fds, e);
    if (userns && !enter_user_namespace(*userns, e)) die(fds, e);
  }

  // Everything above 2 closes at exec; the report pipe stays usable until then.
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    e.fail([](ChildText& t) { t.add("close_range(3, ~0, CLOSE_RANGE_CLOEXEC)"); });
    die(fds, e);
  }

  // Last before exec: from here on the seccomp filter judges every call.
  stamps.steps.at[security_started] = host_monotonic_ns();
  if (plan.security && !apply_security(*plan.security, e)) die(fds, e);
  stamps.steps.at[security_done] = host_monotonic_ns();
  if (cell_ready) {
    // Forked before the cell's file system existed: wait for it (the init's pivot_root has moved
    // our root into it), then take the working directory there. No message: the init failed,
    // has reported why, and is about to take us with it.
    if (cell_ready->wait(CellMessage::cell_ready) != 0) ::_exit(127);
    stamps.steps.at[cell_ready_seen] = host_monotonic_ns();
    if (!enter_cwd(plan, e)) die(fds, e);
  }
  stamps.steps.at[exec_called] = host_monotonic_ns();
  stamps.cpu_ns = process_cpu_ns();
  send_report(fds.report_write, stamps);

  // Like execvp: try each candidate; remember EACCES, keep looking past ENOENT/ENOTDIR.
  int first_err = 0;
  for (const std::string& path : plan.exec_candidates) {
    ::execve(path.c_str(), plan.argv.data(), plan.envp.data());
    int err = errno;
    if (err == EACCES) first_err = EACCES;
    else if (err != ENOENT && err != ENOTDIR && err != ESTALE) {
      first_err = err;
      break;
    }
    if (!first_err) first_err = err;
  }
  errno = first_err;
  e.fail([&](ChildText& t) { t.add(plan.exec_display.c_str()); });
  die(fds, e);
}

}  // namespace cellblock
