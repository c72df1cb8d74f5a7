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

constexpr auto kSampleEvery = std::chrono::milliseconds(10);

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

Supervision::Supervision(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup, const StopToken* stop,
                         OutputListener* output, Clock::time_point started, PrestartGate prestart)
    : cell_(cell),
      cgroup_(cgroup),
      output_(output),
      prestart_(std::move(prestart)),
      deadline_(started + std::chrono::milliseconds(limits.wall_time_ms)),
      cpu_limit_ns_(limits.cpu_time_ms ? *limits.cpu_time_ms * 1'000'000ull : 0),
      // Nothing can have been used at the start: the first look is as late as is safe.
      next_cpu_(started + next_cpu_check(0, cpu_limit_ns_)),  // read only with a limit
      // Kernels without pids.peak: the peak is the highest pids.current seen, every 10 ms.
      sample_pids_(cgroup && cgroup->needs_sampling()),
      next_sample_(started) {
  s_.out = CappedOutput(limits.output_bytes);
  s_.err = CappedOutput(limits.output_bytes);
  fds_[kPidfd] = cell.pidfd.get();
  fds_[kStdout] = cell.stdout_read.get();
  fds_[kStderr] = cell.stderr_read.get();
  fds_[kReport] = cell.report_read.get();
  fds_[kStop] = stop ? stop->fd() : -1;
}

void Supervision::kill_cell(Status why) {
  if (!s_.stopped_for) s_.stopped_for = why;
  if (!killed_) {
    // SIGKILL to a pid namespace's init kills every process in the namespace.
    ::syscall(SYS_pidfd_send_signal, cell_.pidfd.get(), SIGKILL, nullptr, 0);
    killed_ = true;
  }
  fds_[kStop] = -1;
}

Supervision::Clock::time_point Supervision::next_wake() const {
  if (init_exited_) return drain_until_;
  if (answered_) return Clock::time_point::max();  // only the pidfd is awaited
  Clock::time_point wake = deadline_;
  if (cpu_limit_ns_ && !killed_) wake = std::min(wake, next_cpu_);
  if (sample_pids_) wake = std::min(wake, next_sample_);
  return wake;
}

bool Supervision::done(Clock::time_point now) const {
  if (!init_exited_) return false;
  return (fds_[kStdout] < 0 && fds_[kStderr] < 0 && fds_[kReport] < 0) || now >= drain_until_;
}

bool Supervision::answerable() const {
  return !answered_ && !init_exited_ && !killed_ && s_.command_wait_status && s_.cpu_at_command_exit_ns &&
         !s_.setup_error && !s_.prestart_error && fds_[kStdout] < 0 && fds_[kStderr] < 0;
}

void Supervision::answered(Clock::time_point now) {
  answered_ = true;
  s_.ended = now;
  fds_[kStop] = -1;
  output_ = nullptr;
}

void Supervision::step(const bool (&ready)[kSlots], Clock::time_point now) {
  if (ready[kStdout] && fds_[kStdout] >= 0) {
    bool over = false;
    if (!drain(fds_[kStdout], s_.out, over, output_, OutputStream::out)) fds_[kStdout] = -1;
    if (over) kill_cell(Status::output_limit);
  }
  if (ready[kStderr] && fds_[kStderr] >= 0) {
    bool over = false;
    if (!drain(fds_[kStderr], s_.err, over, output_, OutputStream::err)) fds_[kStderr] = -1;
    if (over) kill_cell(Status::output_limit);
  }
  if (ready[kReport] && fds_[kReport] >= 0) {
    const uint32_t kind = read_report(fds_[kReport], s_);
    if (kind == 0) fds_[kReport] = -1;
    if (kind == CellReport::command_exit && cgroup_) s_.cpu_at_command_exit_ns = cgroup_->cpu_usage_ns();
    if (kind == CellReport::namespaces_ready && !killed_) {
      // The hooks run here, on this thread: the command has not started, so nothing is written
      // to the output pipes meanwhile. Their time is not the job's.
      const Clock::time_point held_from = Clock::now();
      s_.prestart_error = prestart_ ? prestart_() : std::nullopt;
      s_.held = Clock::now() - held_from;
      deadline_ += s_.held;
      next_cpu_ += s_.held;
      now = Clock::now();
      if (s_.prestart_error) kill_cell(Status::setup_error);
      else {
        // A failed write means the init is gone already: it reports why itself.
        const char go = static_cast<char>(CellMessage::go);
        [[maybe_unused]] ssize_t n = ::write(cell_.go_write.get(), &go, 1);
      }
      cell_.go_write.reset();
    }
  }
  if (ready[kStop] && fds_[kStop] >= 0) kill_cell(Status::cancelled);
  if (ready[kPidfd] && fds_[kPidfd] >= 0) {
    if (::waitid(P_PIDFD, static_cast<id_t>(cell_.pidfd.get()), &s_.init_exit, WEXITED) != 0) throw_sys("waitid(P_PIDFD)");
    if (!answered_) s_.ended = now;
    init_exited_ = true;
    fds_[kPidfd] = -1;
    drain_until_ = now + std::chrono::seconds(1);
  }
  // Once answered the job is over: only the init's exit is awaited, with no limit to enforce.
  if (init_exited_ || answered_) return;
  if (sample_pids_ && now >= next_sample_) {
    cgroup_->sample();
    next_sample_ = now + kSampleEvery;
  }
  if (now >= deadline_) kill_cell(Status::wall_time_limit);
  if (cpu_limit_ns_ && cgroup_ && !killed_ && now >= next_cpu_) {
    // The job's time, as the result reports it: without the command's set-up before exec
    // (its report has come by then), so a job that ends as cpu_time_limit reports at least
    // the limit. The init's share is not known until the end and stays counted.
    const uint64_t counted = cgroup_->cpu_usage_ns();
    const uint64_t used = counted - std::min(counted, s_.setup_cpu_ns);
    if (used >= cpu_limit_ns_) kill_cell(Status::cpu_time_limit);
    else next_cpu_ = now + next_cpu_check(used, cpu_limit_ns_);
  }
}

SupervisedCell supervise_cell(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup, const StopToken* stop,
                              OutputListener* output, Clock::time_point started, const PrestartGate& prestart) {
  Supervision sv(cell, limits, cgroup, stop, output, started, prestart);
  pollfd fds[Supervision::kSlots] = {};
  for (Clock::time_point now = Clock::now(); !sv.done(now); now = Clock::now()) {
    for (int i = 0; i < Supervision::kSlots; ++i) fds[i] = {sv.fd(Supervision::Slot(i)), POLLIN, 0};
    auto wait = std::max(nanoseconds(0), std::chrono::duration_cast<nanoseconds>(sv.next_wake() - now));
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    int n = ::ppoll(fds, Supervision::kSlots, &ts, nullptr);
    if (n < 0 && errno != EINTR) throw_sys("ppoll");
    bool ready[Supervision::kSlots];
    for (int i = 0; i < Supervision::kSlots; ++i) ready[i] = n > 0 && fds[i].fd >= 0 && fds[i].revents != 0;
    sv.step(ready, Clock::now());
  }
  return std::move(sv.result());
}

}  // namespace cellblock
