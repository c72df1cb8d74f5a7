#include "executor/supervise.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "executor/cell/handshake.h"
#include "executor/cgroup/cgroup.h"
#include "executor/stop_token.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

enum Slot { kPidfd, kStdout, kStderr, kReport, kStop, kSlots };

// Reads what is available, handing what the cap keeps to `listener` too; returns false at
// end-of-file.
bool drain(int fd, CappedOutput& sink, bool& over_cap, OutputListener* listener, OutputStream which) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const size_t before = sink.size();
      if (!sink.append(buf, static_cast<size_t>(n))) over_cap = true;
      if (listener && sink.size() > before) listener->on_output(which, sink.kept_since(before));
      if (static_cast<size_t>(n) < sizeof buf) return true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    throw_sys("read cell output");
  }
}

// Returns the record's kind, 0 at end-of-file.
uint32_t read_report(int fd, SupervisedCell& cell) {
  CellReport r{};
  ssize_t n;
  do n = ::read(fd, &r, sizeof r); while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("read cell report");
  if (n == 0) return 0;
  if (static_cast<size_t>(n) != sizeof r) return CellReport::timings;  // a torn record cannot happen below PIPE_BUF
  if (r.kind == CellReport::setup_error && !cell.setup_error) cell.setup_error = r;
  if (r.kind == CellReport::command_exit) cell.command_wait_status = r.wait_status;
  if (r.kind == CellReport::command_exit || r.kind == CellReport::timings) cell.setup_cpu_ns += r.cpu_ns;
  // Each process stamps only its own steps; the others are zero.
  if (r.kind == CellReport::command_exit || r.kind == CellReport::timings)
    for (int i = 0; i < kCellSteps; ++i)
      if (r.steps.at[i]) cell.steps.at[i] = r.steps.at[i];
  return r.kind;
}

// How long until the CPU-time limit could next be reached: the cell cannot use more than all
// CPUs' worth per unit of wall time, so half the remaining budget spread over them is safe.
nanoseconds next_cpu_check(uint64_t used_ns, uint64_t limit_ns) {
  static const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  if (used_ns >= limit_ns) return nanoseconds(0);
  auto wait = nanoseconds((limit_ns - used_ns) / cpus);
  return std::clamp(wait, nanoseconds(std::chrono::microseconds(500)), nanoseconds(std::chrono::milliseconds(100)));
}

}  // namespace

SupervisedCell supervise_cell(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup, const StopToken* stop,
                              OutputListener* output, Clock::time_point started, const PrestartGate& prestart) {
  SupervisedCell s;
  s.out = CappedOutput(limits.output_bytes);
  s.err = CappedOutput(limits.output_bytes);
  Clock::time_point deadline = started + std::chrono::milliseconds(limits.wall_time_ms);
  const uint64_t cpu_limit_ns = limits.cpu_time_ms ? *limits.cpu_time_ms * 1'000'000ull : 0;
  Clock::time_point next_cpu = started;
  // Kernels without pids.peak: the peak is the highest pids.current seen, every 10 ms.
  const bool sample_pids = cgroup && cgroup->needs_sampling();
  constexpr auto kSampleEvery = std::chrono::milliseconds(10);
  Clock::time_point next_sample = started;

  pollfd fds[kSlots] = {};
  fds[kPidfd] = {cell.pidfd.get(), POLLIN, 0};
  fds[kStdout] = {cell.stdout_read.get(), POLLIN, 0};
  fds[kStderr] = {cell.stderr_read.get(), POLLIN, 0};
  fds[kReport] = {cell.report_read.get(), POLLIN, 0};
  fds[kStop] = {stop ? stop->fd() : -1, POLLIN, 0};

  bool init_exited = false;
  bool killed = false;
  auto kill_cell = [&](Status why) {
    if (!s.stopped_for) s.stopped_for = why;
    if (!killed) {
      // SIGKILL to a pid namespace's init kills every process in the namespace.
      ::syscall(SYS_pidfd_send_signal, cell.pidfd.get(), SIGKILL, nullptr, 0);
      killed = true;
    }
    fds[kStop].fd = -1;
  };

  // After the init has exited every process of the cell is gone, so the pipes reach
  // end-of-file at once; the grace period only guards against a bug holding a write end.
  Clock::time_point drain_until = Clock::time_point::max();
  while (fds[kStdout].fd >= 0 || fds[kStderr].fd >= 0 || fds[kReport].fd >= 0 || !init_exited) {
    Clock::time_point now = Clock::now();
    if (init_exited && now >= drain_until) break;
    Clock::time_point wake = init_exited ? drain_until : deadline;
    if (cpu_limit_ns && !init_exited && !killed) wake = std::min(wake, next_cpu);
    if (sample_pids && !init_exited) wake = std::min(wake, next_sample);
    auto wait = std::max(nanoseconds(0), std::chrono::duration_cast<nanoseconds>(wake - now));
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    int n = ::ppoll(fds, kSlots, &ts, nullptr);
    if (n < 0 && errno != EINTR) throw_sys("ppoll");
    now = Clock::now();

    if (fds[kStdout].revents) {
      bool over = false;
      if (!drain(fds[kStdout].fd, s.out, over, output, OutputStream::out)) fds[kStdout].fd = -1;
      if (over) kill_cell(Status::output_limit);
    }
    if (fds[kStderr].revents) {
      bool over = false;
      if (!drain(fds[kStderr].fd, s.err, over, output, OutputStream::err)) fds[kStderr].fd = -1;
      if (over) kill_cell(Status::output_limit);
    }
    if (fds[kReport].revents) {
      const uint32_t kind = read_report(fds[kReport].fd, s);
      if (kind == 0) fds[kReport].fd = -1;
      if (kind == CellReport::namespaces_ready && !killed) {
        // The hooks run here, on this thread: the command has not started, so nothing is written
        // to the output pipes meanwhile. Their time is not the job's.
        const Clock::time_point held_from = Clock::now();
        s.prestart_error = prestart ? prestart() : std::nullopt;
        s.held = Clock::now() - held_from;
        deadline += s.held;
        next_cpu += s.held;
        now = Clock::now();
        if (s.prestart_error) kill_cell(Status::setup_error);
        else {
          // A failed write means the init is gone already: it reports why itself.
          const char go = static_cast<char>(CellMessage::go);
          [[maybe_unused]] ssize_t n = ::write(cell.go_write.get(), &go, 1);
        }
        cell.go_write.reset();
      }
    }
    if (fds[kStop].fd >= 0 && fds[kStop].revents) kill_cell(Status::cancelled);
    if (fds[kPidfd].fd >= 0 && fds[kPidfd].revents) {
      if (::waitid(P_PIDFD, static_cast<id_t>(cell.pidfd.get()), &s.init_exit, WEXITED) != 0) throw_sys("waitid(P_PIDFD)");
      s.ended = now;
      init_exited = true;
      fds[kPidfd].fd = -1;
      drain_until = now + std::chrono::seconds(1);
    }
    if (init_exited) continue;
    if (sample_pids && now >= next_sample) {
      cgroup->sample();
      next_sample = now + kSampleEvery;
    }
    if (now >= deadline) kill_cell(Status::wall_time_limit);
    if (cpu_limit_ns && cgroup && !killed && now >= next_cpu) {
      // The job's time, as the result reports it: without the command's set-up before exec
      // (its report has come by then), so a job that ends as cpu_time_limit reports at least
      // the limit. The init's share is not known until the end and stays counted.
      const uint64_t counted = cgroup->cpu_usage_ns();
      const uint64_t used = counted - std::min(counted, s.setup_cpu_ns);
      if (used >= cpu_limit_ns) kill_cell(Status::cpu_time_limit);
      else next_cpu = now + next_cpu_check(used, cpu_limit_ns);
    }
  }
  return s;
}

}  // namespace cellblock
