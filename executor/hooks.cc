#include "executor/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "executor/base/host_file.h"
#include "executor/base/pidfd.h"
#include "executor/base/sys_error.h"
#include "executor/capped_output.h"

namespace cellblock {
namespace {

using Clock = std::chrono::steady_clock;

// The input as a memfd the hook reads from the start, whatever its size (a pipe would block
// the supervisor on an input larger than the pipe's buffer).
UniqueFd input_fd(const std::string& input) {
  UniqueFd fd(::memfd_create("cellblock-hook-input", MFD_CLOEXEC));
  if (!fd) throw_sys("memfd_create for a hook's input");
  write_all(fd.get(), input, "a hook's input memfd");
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_sys("lseek a hook's input memfd");
  return fd;
}

// posix_spawn's attributes and file actions, released on every way out.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// Reads what the hook's stderr has now into `sink`; false at end-of-file.
bool drain(int fd, CappedOutput& sink) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      sink.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    return false;
  }
}

int wait_ms(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

}  // namespace

HookRun run_hook(const Hook& hook, const std::string& stage, const std::string& input) {
  HookRun run;
  run.stage = stage;
  run.name = hook.name;
  run.timeout_ms = hook.timeout_ms;
  const Clock::time_point started = Clock::now();

  UniqueFd in = input_fd(input);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw_sys("pipe2 for a hook's stderr");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  SpawnSetup s;
  // 0: the input; 1: /dev/null; 2: the capture. Everything else closed, whatever a library may
  // have opened without O_CLOEXEC.
  posix_spawn_file_actions_adddup2(&s.actions, in.get(), 0);
  posix_spawn_file_actions_addopen(&s.actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, err_write.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  // Its own process group, so the time limit kills what it started too; default dispositions
  // (the supervisor ignores SIGPIPE, which a child would inherit) and no blocked signals.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&s.attr, &all);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> argv_storage{hook.path};
  argv_storage.insert(argv_storage.end(), hook.args.begin(), hook.args.end());
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : hook.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  // posix_spawn clones with CLONE_VM|CLONE_VFORK: safe in a multi-threaded supervisor.
  pid_t pid = -1;
  if (int e = ::posix_spawn(&pid, hook.path.c_str(), &s.actions, &s.attr, argv.data(), envp.data()); e != 0) {
    run.error = "exec " + hook.path + ": " + std::strerror(e);
    run.wall_time_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    return run;
  }
  err_write.reset();
  in.reset();
  UniqueFd pidfd(sys_pidfd_open(pid));
  if (!pidfd) {
    const int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw SysError(e, "pidfd_open for hook " + hook.path);
  }

  CappedOutput err(kHookStderrCap);
  const Clock::time_point deadline = started + std::chrono::milliseconds(hook.timeout_ms);
  siginfo_t info{};
  bool exited = false;
  bool err_open = true;
  while (!exited) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {err_open ? err_read.get() : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, wait_ms(deadline));
    if (n < 0 && errno != EINTR) throw_sys("poll a hook");
    if (fds[1].revents) err_open = drain(err_read.get(), err);
    if (fds[0].revents) {
      // Seen, not reaped: while the leader is a zombie its process group cannot be reused, so
      // the kill below reaches only what this hook left behind.
      if (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED | WNOWAIT) != 0) throw_sys("waitid a hook");
      exited = true;
    } else if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      run.timed_out = true;
      if (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED | WNOWAIT) != 0) throw_sys("waitid a hook");
      exited = true;
    }
  }
  ::kill(-pid, SIGKILL);
  siginfo_t reaped{};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &reaped, WEXITED);
  // Its group is dead, so its stderr ends now; a process that left the group (setsid) and kept
  // the pipe gets a second at most.
  const Clock::time_point drain_until = Clock::now() + std::chrono::seconds(1);
  while (err_open && Clock::now() < drain_until) {
    pollfd p{err_read.get(), POLLIN, 0};
    if (::poll(&p, 1, wait_ms(drain_until)) > 0) err_open = drain(err_read.get(), err);
  }

  if (info.si_code == CLD_EXITED) run.exit_code = info.si_status;
  else run.signal = info.si_status;
  run.ok = !run.timed_out && run.exit_code == 0;
  run.stderr_truncated = err.truncated();
  run.stderr_data = err.take();
  run.wall_time_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return run;
}

std::string describe_failure(const HookRun& run) {
  std::string text = run.stage + " hook \"" + run.name + "\": ";
  if (run.error) text += *run.error;
  else if (run.timed_out) text += "killed at its time limit (" + std::to_string(run.timeout_ms) + " ms)";
  else if (run.signal) text += "killed by signal " + std::to_string(*run.signal);
  else text += "exited " + std::to_string(run.exit_code.value_or(-1));
  if (!run.stderr_data.empty()) text += ": " + run.stderr_data;
  if (run.stderr_truncated) text += "...";
  return text;
}

}  // namespace cellblock
