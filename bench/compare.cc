// compare: per-job latency and throughput of launchers side by side.
//
//   compare [options] -- NAME 'COMMAND LINE' NAME 'COMMAND LINE' ...
//
// Latency: every tool runs once per round, in the order given (A B C A B C ...), for --warmup
// rounds that are thrown away and then --runs rounds that count. Interleaving spreads any drift
// of the machine (another process, frequency, page cache) over every tool alike instead of
// charging it to whichever tool happened to run during it. Each run is timed with
// CLOCK_MONOTONIC from just before posix_spawn() to just after waitpid() returns, so a run's
// time is everything a caller of that tool waits for: exec of the tool, its setup, the command,
// its teardown.
//
// Throughput (--throughput N): N jobs per tool, run by P workers at once (--parallel 1,2),
// each worker starting the next job as soon as its last one ends. The N jobs are cut into
// --blocks blocks and the tools take turns block by block, again so that drift hits all alike.
// jobs/s = N / (sum of the blocks' wall-clock time).
//
// A command line is split into words like a shell does (quotes and backslashes, no expansion,
// no shell is run); "{id}" in a word becomes a fresh id per run (container names).
// A run that does not exit 0 is an error: the tool is stopped, its stderr is reported, and
// compare exits 1 after writing what it measured.
//
// --batch NAME='COMMAND' adds a tool that runs many jobs in one process (a resident queue):
// it is run once per block with "{n}" replaced by the block's job count and "{parallel}" by P,
// and counts in the throughput table only.
//
// Load guard (on by default): the CPU time of every other user-space process is watched; a chunk
// of latency rounds (>= 0.25 s) or a throughput block during which other work took more than
// --guard-max-cpus is thrown away and run again after a quiet spell (see LoadGuard).
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/in_process.h"
#include "bench/report_util.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

extern char** environ;

namespace cellblock::bench {
namespace {

using nlohmann::json;

// ---- command lines -------------------------------------------------------------------------

// Splits a command line into words: whitespace separates, '...' is literal, "..." allows
// \" \\ \$ \` escapes, a backslash outside quotes escapes the next character. No expansion.
std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) throw std::invalid_argument("unterminated ' in: " + line);
      cur.append(line, i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && std::strchr("\"\\$`", line[j + 1])) ++j;
        cur += line[j];
      }
      if (j >= line.size()) throw std::invalid_argument("unterminated \" in: " + line);
      i = j;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) throw std::invalid_argument("trailing \\ in: " + line);
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  if (words.empty()) throw std::invalid_argument("empty command line");
  return words;
}

// Resolves a program name the way execvp would, once, before any timing.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) throw_sys("access(" + cellblock::quoted(name) + ", X_OK)");
    return name;
  }
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(name + ": not found in PATH");
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
  return s;
}

// ---- one timed run -------------------------------------------------------------------------

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// Where a child's stdio goes: stdin and stdout /dev/null, stderr a memfd that is read only when
// the run fails. One per worker thread.
class Stdio {
 public:
  Stdio() : devnull_(open("/dev/null", O_RDWR | O_CLOEXEC)), err_(memfd_create("compare-stderr", MFD_CLOEXEC)) {
    if (!devnull_) throw_sys("open(\"/dev/null\")");
    if (!err_) throw_sys("memfd_create(\"compare-stderr\")");
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_adddup2(&actions_, devnull_.get(), 0);
    posix_spawn_file_actions_adddup2(&actions_, devnull_.get(), 1);
    posix_spawn_file_actions_adddup2(&actions_, err_.get(), 2);
    posix_spawnattr_init(&attr_);
    // The child starts with no blocked signals and default dispositions, whatever ours are.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~Stdio() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  Stdio(const Stdio&) = delete;
  Stdio& operator=(const Stdio&) = delete;

  // Empties the stderr capture; called before the clock starts.
  void reset() {
    if (ftruncate(err_.get(), 0) != 0) throw_sys("ftruncate(memfd)");
    lseek(err_.get(), 0, SEEK_SET);
  }
  std::string captured_stderr(size_t max = 2000) const {
    std::string s(max, '\0');
    ssize_t n = pread(err_.get(), s.data(), max, 0);
    s.resize(n > 0 ? size_t(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  UniqueFd devnull_, err_;
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// A command ready to spawn: argv as strings plus a char* array, with "{id}"-bearing words
// re-filled per run before the clock starts.
class Command {
 public:
  Command(std::vector<std::string> words, std::string program) : template_(std::move(words)), program_(std::move(program)) {
    args_ = template_;
    for (size_t i = 0; i < template_.size(); ++i)
      if (template_[i].find("{id}") != std::string::npos) id_words_.push_back(i);
    ptrs_.resize(args_.size() + 1, nullptr);
    refresh_ptrs();
  }
  void set_id(const std::string& id) {
    if (id_words_.empty()) return;
    for (size_t i : id_words_) args_[i] = replace_all(template_[i], "{id}", id);
    refresh_ptrs();
  }
  const char* program() const { return program_.c_str(); }
  char* const* argv() const { return const_cast<char* const*>(ptrs_.data()); }

 private:
  void refresh_ptrs() {
    for (size_t i = 0; i < args_.size(); ++i) ptrs_[i] = args_[i].c_str();
  }
  std::vector<std::string> template_, args_;
  std::string program_;
  std::vector<size_t> id_words_;
  std::vector<const char*> ptrs_;
};

struct RunOutcome {
  int64_t ns = 0;
  std::optional<std::string> error;
};

RunOutcome run_in_process(InProcessQueue& queue) {
  InProcessQueue::Outcome o = queue.run_one();
  return RunOutcome{o.ns, o.error};
}

RunOutcome run_once(const Command& cmd, Stdio& io) {
  io.reset();
  RunOutcome out;
  pid_t pid = -1;
  const int64_t t0 = now_ns();
  int rc = posix_spawn(&pid, cmd.program(), io.actions(), io.attr(), cmd.argv(), environ);
  if (rc != 0) {
    out.error = std::string("posix_spawn(") + cellblock::quoted(cmd.program()) + "): " + std::strerror(rc);
    return out;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      out.error = std::string("waitpid: ") + std::strerror(errno);
      return out;
    }
  }
  out.ns = now_ns() - t0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string err = io.captured_stderr();
    out.error = describe_status(status) + (err.empty() ? std::string(", no stderr") : "; stderr: " + err);
  }
  return out;
}

// ---- statistics ----------------------------------------------------------------------------

struct Stats {
  size_t n = 0;
  double median_ms = 0, p99_ms = 0, mean_ms = 0, min_ms = 0, max_ms = 0, stddev_ms = 0;
};

// Median: the middle value, or the mean of the two middle ones. p99: nearest rank,
// the ceil(0.99 n)-th smallest value, so with 300 runs it is the 297th, not an interpolation.
Stats compute_stats(std::vector<int64_t> ns) {
  Stats s;
  s.n = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  const size_t n = ns.size();
  s.median_ms = (n % 2 ? double(ns[n / 2]) : (double(ns[n / 2 - 1]) + double(ns[n / 2])) / 2) / 1e6;
  const size_t rank = (n * 99 + 99) / 100;
  s.p99_ms = double(ns[rank - 1]) / 1e6;
  double sum = 0;
  for (int64_t v : ns) sum += double(v);
  const double mean = sum / double(n);
  double sq = 0;
  for (int64_t v : ns) sq += (double(v) - mean) * (double(v) - mean);
  s.mean_ms = mean / 1e6;
  s.stddev_ms = n > 1 ? std::sqrt(sq / double(n - 1)) / 1e6 : 0;
  s.min_ms = double(ns.front()) / 1e6;
  s.max_ms = double(ns.back()) / 1e6;
  return s;
}

json stats_json(const Stats& s) {
  return {{"runs", s.n},           {"median_ms", s.median_ms}, {"p99_ms", s.p99_ms}, {"mean_ms", s.mean_ms},
          {"min_ms", s.min_ms},    {"max_ms", s.max_ms},       {"stddev_ms", s.stddev_ms}};
}

// ---- tools ---------------------------------------------------------------------------------

struct ThroughputResult {
  int parallel = 0;
  size_t jobs = 0;
  double seconds = 0;
  Stats latency;  // per-job latency under this load (per-spawn tools only)
};

struct Tool {
  std::shared_ptr<InProcessQueue> queue;  // "@queue ROOTFS [POLICY]": cellblock's queue in this process
  std::string name;
  std::string command_line;
  std::vector<std::string> words;
  std::string program;
  bool batch = false;  // one process runs many jobs; throughput only
  std::string description;
  std::string wrapper;  // name of a row that measures the wrapper this tool runs under
  std::vector<int64_t> latency_ns;
  std::vector<ThroughputResult> throughput;
  std::optional<std::string> error;
};

std::atomic<uint64_t> g_run_seq{0};

std::string fresh_id(const std::string& tool) {
  return "cbb-" + std::to_string(getpid()) + "-" + tool + "-" + std::to_string(g_run_seq++);
}

void fail(Tool& tool, const std::string& what) {
  if (tool.error) return;
  tool.error = what;
  std::cerr << "\ncompare: " << tool.name << ": " << what << "\n";
}

// Runs `jobs` jobs of a per-spawn tool with `parallel` workers; returns the wall-clock time of
// the whole block and appends each job's latency to `latencies`.
int64_t run_block(Tool& tool, size_t jobs, int parallel, std::vector<int64_t>& latencies) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<std::string> first_error;
  std::vector<std::vector<int64_t>> per_worker(static_cast<size_t>(parallel));
  std::vector<std::unique_ptr<Stdio>> io;
  std::vector<Command> cmds;
  for (int w = 0; w < parallel; ++w) {
    io.push_back(std::make_unique<Stdio>());
    cmds.emplace_back(tool.words, tool.program);
    per_worker[size_t(w)].reserve(jobs);
  }
  std::latch ready(parallel + 1), go(1);
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&, w] {
      ready.count_down();
      go.wait();
      while (!stop.load(std::memory_order_relaxed)) {
        size_t i = next.fetch_add(1);
        if (i >= jobs) break;
        cmds[size_t(w)].set_id(fresh_id(tool.name));
        RunOutcome r = tool.queue ? run_in_process(*tool.queue) : run_once(cmds[size_t(w)], *io[size_t(w)]);
        if (r.error) {
          std::lock_guard lock(mu);
          if (!first_error) first_error = "job " + std::to_string(i) + ": " + *r.error;
          stop = true;
          break;
        }
        per_worker[size_t(w)].push_back(r.ns);
      }
    });
  }
  ready.arrive_and_wait();
  const int64_t t0 = now_ns();
  go.count_down();
  for (auto& t : workers) t.join();
  const int64_t elapsed = now_ns() - t0;
  if (first_error) fail(tool, "throughput, " + std::to_string(parallel) + " workers, " + *first_error);
  for (auto& v : per_worker) latencies.insert(latencies.end(), v.begin(), v.end());
  return elapsed;
}

// Runs a batch tool once over `jobs` jobs; returns its wall-clock time.
int64_t run_batch(Tool& tool, size_t jobs, int parallel) {
  std::vector<std::string> words;
  for (const auto& w : tool.words)
    words.push_back(replace_all(replace_all(w, "{n}", std::to_string(jobs)), "{parallel}", std::to_string(parallel)));
  Command cmd(words, tool.program);
  cmd.set_id(fresh_id(tool.name));
  Stdio io;
  RunOutcome r = run_once(cmd, io);
  if (r.error) fail(tool, "batch of " + std::to_string(jobs) + " jobs: " + *r.error);
  return r.ns;
}

// ---- the machine ---------------------------------------------------------------------------

std::string read_first_line(const char* path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::string cgroup_mode() {
  struct statfs fs;
  if (statfs("/sys/fs/cgroup", &fs) != 0) return "unknown (no /sys/fs/cgroup)";
  constexpr long kCgroup2 = 0x63677270, kTmpfs = 0x01021994;
  if (fs.f_type == kCgroup2) return "v2 (unified)";
  if (fs.f_type == kTmpfs) {
    struct statfs u;
    if (statfs("/sys/fs/cgroup/unified", &u) == 0 && u.f_type == kCgroup2) {
      std::string ctl = read_first_line("/sys/fs/cgroup/unified/cgroup.controllers");
      return "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified" +
             (ctl.empty() ? std::string(" with no controllers)") : " with controllers: " + ctl + ")");
    }
    return "v1 (legacy)";
  }
  return "unknown";
}

json machine_json() {
  json m;
  m["nproc"] = sysconf(_SC_NPROCESSORS_ONLN);
  utsname u{};
  uname(&u);
  m["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  m["cgroup_mode"] = cgroup_mode();
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream mem("/proc/meminfo");
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      long kb = 0;
      std::sscanf(line.c_str(), "MemTotal: %ld", &kb);
      m["memory_gib"] = std::round(double(kb) / 1024 / 1024 * 10) / 10;
      break;
    }
  }
  std::string os = "unknown";
  std::ifstream rel("/etc/os-release");
  for (std::string line; std::getline(rel, line);)
    if (line.rfind("PRETTY_NAME=", 0) == 0) os = replace_all(line.substr(12), "\"", "");
  m["os"] = os;
  m["loadavg_at_start"] = read_first_line("/proc/loadavg");
  return m;
}

// ---- other load on the machine -----------------------------------------------------------
//
// The machine may be shared (other builds, other benchmarks). Wall-clock figures taken while
// something else runs are worthless, so compare watches the CPU time of every user-space process
// that is not compare itself: utime + stime + cutime + cstime from /proc/PID/stat. Including
// the children's times keeps the sum right across exits: a process that ends between two samples
// moves its time into its parent's cutime (or PID 1's, for orphans). Kernel threads are left
// out, because some of them work for our own runs (network namespace and cgroup teardown).
// Between two rounds no child of ours is alive, so nothing of ours is counted.
int64_t foreign_cpu_ticks() {
  static const pid_t self = getpid();
  int64_t total = 0;
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    const pid_t pid = pid_t(std::atol(e->d_name));
    if (pid == self) continue;
    char path[64], buf[1024];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* rp = std::strrchr(buf, ')');  // the command name may hold spaces and parentheses
    if (!rp) continue;
    // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    char state;
    long long ppid, pgrp, session, tty, tpgid, minflt, cminflt, majflt, cmajflt, utime, stime, cutime, cstime;
    unsigned long long flags;
    if (std::sscanf(rp + 2, "%c %lld %lld %lld %lld %lld %llu %lld %lld %lld %lld %lld %lld %lld %lld", &state, &ppid,
                    &pgrp, &session, &tty, &tpgid, &flags, &minflt, &cminflt, &majflt, &cmajflt, &utime, &stime, &cutime,
                    &cstime) != 15)
      continue;
    constexpr unsigned long long kPfKthread = 0x00200000;
    if (flags & kPfKthread) continue;
    total += utime + stime + cutime + cstime;
  }
  closedir(d);
  return total;
}

double ticks_to_s(int64_t ticks) { return double(ticks) / double(sysconf(_SC_CLK_TCK)); }

// Decides whether a stretch of measurement was disturbed, and waits for quiet when it was.
class LoadGuard {
 public:
  LoadGuard(bool enabled, double max_share, double max_wait_s)
      : enabled_(enabled), max_share_(max_share), max_wait_s_(max_wait_s) {
    mark();
  }
  // Starts a stretch (a round or a block).
  void mark() {
    t0_ = now_ns();
    ticks0_ = foreign_cpu_ticks();
  }
  // Ends a stretch: true if it counts. Other work worth at most max_share of one CPU is allowed,
  // and at least one clock tick, since the sampling is in ticks (10 ms) and PID 1 ticks now and then.
  bool accept() {
    const double wall = double(now_ns() - t0_) / 1e9;
    const double foreign = ticks_to_s(foreign_cpu_ticks() - ticks0_);
    const bool ok = !enabled_ || gave_up_ || foreign <= std::max(max_share_ * wall, ticks_to_s(1) + 1e-9);
    if (ok) {
      counted_wall_s_ += wall;
      counted_foreign_s_ += foreign;
    } else {
      ++rejected_;
    }
    return ok;
  }
  // Waits until two seconds in a row had at most max_share of a CPU of other work, or until the
  // whole budget of waiting is spent, after which the guard stops rejecting (and the report says so).
  void wait_for_quiet(bool progress) {
    if (!enabled_ || gave_up_) return;
    int quiet_seconds = 0;
    while (quiet_seconds < 2) {
      if (waited_s_ >= max_wait_s_) {
        gave_up_ = true;
        if (progress) std::fprintf(stderr, "\ncompare: still busy after %.0f s of waiting; measuring anyway\n", waited_s_);
        return;
      }
      const int64_t a = foreign_cpu_ticks();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      waited_s_ += 1;
      quiet_seconds = ticks_to_s(foreign_cpu_ticks() - a) <= max_share_ ? quiet_seconds + 1 : 0;
      if (progress) std::fprintf(stderr, "\rcompare: waiting for a quiet machine (%.0f s)   ", waited_s_);
    }
  }
  json report() const {
    return {{"enabled", enabled_},
            {"max_other_cpu_share", max_share_},
            {"rejected_stretches", rejected_},
            {"seconds_waited", waited_s_},
            {"gave_up", gave_up_},
            {"other_cpu_share_in_counted_time", counted_wall_s_ > 0 ? counted_foreign_s_ / counted_wall_s_ : 0.0}};
  }

 private:
  bool enabled_;
  double max_share_, max_wait_s_;
  int64_t t0_ = 0, ticks0_ = 0;
  size_t rejected_ = 0;
  double waited_s_ = 0, counted_wall_s_ = 0, counted_foreign_s_ = 0;
  bool gave_up_ = false;
};

// ---- output --------------------------------------------------------------------------------

std::string md_escape(const std::string& s) { return replace_all(s, "|", "\\|"); }

struct Settings {
  size_t runs = 300, warmup = 30, throughput = 0, blocks = 10;
  unsigned gap_ms = 0;  // pause after each latency run, outside the timing
  std::vector<int> parallel{1, 2};
  std::string baseline;
  std::string title = "Launch latency and throughput";
  std::vector<std::pair<std::string, std::string>> meta;
  std::string notes;
  bool guard = true;             // reject rounds and blocks disturbed by other work
  double guard_max_share = 0.1;  // other work allowed during a stretch, in CPUs
  double guard_max_wait = 1800;  // seconds of waiting for quiet before giving up
  json guard_report;
};

const Tool* find_tool(const std::vector<Tool>& tools, const std::string& name) {
  for (const auto& t : tools)
    if (t.name == name) return &t;
  return nullptr;
}

double median_of(const Tool& t) { return compute_stats(t.latency_ns).median_ms; }

// Median minus the wrapper row's own overhead over the baseline, when both are known.
std::optional<double> adjusted_median(const std::vector<Tool>& tools, const Tool& t, const std::string& baseline) {
  if (t.wrapper.empty() || t.latency_ns.empty()) return std::nullopt;
  const Tool* w = find_tool(tools, t.wrapper);
  const Tool* b = find_tool(tools, baseline);
  if (!w || !b || w->latency_ns.empty() || b->latency_ns.empty()) return std::nullopt;
  return median_of(t) - (median_of(*w) - median_of(*b));
}

json to_json(const Settings& s, const json& machine, const std::string& date, const std::vector<Tool>& tools,
             double total_seconds) {
  json j;
  j["schema"] = "cellblock-bench-compare/1";
  j["title"] = s.title;
  j["date"] = date;
  j["machine"] = machine;
  j["settings"] = {{"runs", s.runs},       {"warmup", s.warmup},     {"baseline", s.baseline},
                   {"throughput_jobs", s.throughput}, {"parallel", s.parallel}, {"blocks", s.blocks},
                   {"order", "interleaved round-robin in the order given"},
                   {"timer", "CLOCK_MONOTONIC around posix_spawn + waitpid"}};
  json meta = json::object();
  for (const auto& [k, v] : s.meta) meta[k] = v;
  j["meta"] = meta;
  j["seconds_total"] = total_seconds;
  j["load_guard"] = s.guard_report;
  const Tool* base = find_tool(tools, s.baseline);
  const double base_median = base && !base->latency_ns.empty() ? median_of(*base) : 0;
  j["tools"] = json::array();
  for (const auto& t : tools) {
    json e;
    e["name"] = t.name;
    e["command"] = t.command_line;
    e["argv"] = t.words;
    e["kind"] = t.batch ? "batch" : "per-job process";
    e["isolation"] = t.description;
    if (!t.wrapper.empty()) e["wrapper_row"] = t.wrapper;
    if (!t.batch) {
      Stats st = compute_stats(t.latency_ns);
      e["latency"] = stats_json(st);
      if (base_median > 0 && st.n > 0) e["latency"]["ratio_to_baseline"] = st.median_ms / base_median;
      if (auto adj = adjusted_median(tools, t, s.baseline)) e["latency"]["median_minus_wrapper_ms"] = *adj;
      // Every timed run in the order it ran, in µs, for histograms and re-analysis.
      json samples = json::array();
      for (int64_t v : t.latency_ns) samples.push_back((v + 500) / 1000);
      e["latency"]["samples_us"] = samples;
    }
    e["throughput"] = json::array();
    for (const auto& r : t.throughput) {
      json tr = {{"parallel", r.parallel},
                 {"jobs", r.jobs},
                 {"seconds", r.seconds},
                 {"jobs_per_s", r.seconds > 0 ? double(r.jobs) / r.seconds : 0}};
      if (r.latency.n) tr["latency_under_load"] = stats_json(r.latency);
      e["throughput"].push_back(tr);
    }
    e["error"] = t.error ? json(*t.error) : json(nullptr);
    j["tools"].push_back(e);
  }
  return j;
}

std::string to_markdown(const Settings& s, const json& machine, const std::string& date, const std::vector<Tool>& tools,
                        double total_seconds) {
  std::ostringstream md;
  md << "# " << s.title << "\n\n";
  md << "- date: " << date << "\n";
  md << "- machine: " << machine.value("nproc", 0) << " CPUs (" << machine.value("cpu", std::string("?")) << "), "
     << machine.value("memory_gib", 0.0) << " GiB, " << machine.value("os", std::string("?")) << ", kernel "
     << machine.value("kernel", std::string("?")) << "\n";
  md << "- cgroups: " << machine.value("cgroup_mode", std::string("?")) << "\n";
  md << "- load average at start: " << machine.value("loadavg_at_start", std::string("?")) << "\n";
  for (const auto& [k, v] : s.meta) md << "- " << k << ": " << v << "\n";
  md << "- method: " << s.runs << " timed runs per tool after " << s.warmup
     << " warm-up runs, interleaved round-robin; wall clock (CLOCK_MONOTONIC) around posix_spawn + waitpid; "
        "p99 is the nearest-rank 99th percentile\n";
  md << "- whole comparison took " << fmt(total_seconds, 1) << " s\n";
  if (s.guard_report.is_object()) {
    const json& g = s.guard_report;
    md << "- other load: " << fmt(g.value("other_cpu_share_in_counted_time", 0.0), 3)
       << " CPUs of other user-space work during the counted runs";
    if (g.value("enabled", false))
      md << "; " << g.value("rejected_stretches", 0) << " stretches (chunks of >= 0.25 s of latency rounds, or throughput blocks) were thrown away and redone because other work "
         << "took more than " << fmt(g.value("max_other_cpu_share", 0.0), 2) << " CPUs during them; waited "
         << fmt(g.value("seconds_waited", 0.0), 0) << " s for quiet";
    if (g.value("gave_up", false)) md << " — **gave up waiting; some figures include other load**";
    md << "\n";
  }
  md << "\n";

  const Tool* base = find_tool(tools, s.baseline);
  const double base_median = base && !base->latency_ns.empty() ? median_of(*base) : 0;
  bool any_wrapper = false;
  for (const auto& t : tools) any_wrapper |= adjusted_median(tools, t, s.baseline).has_value();

  md << "## Latency per job (ms)\n\n";
  md << "| tool | median | p99 | mean | min | median / " << (s.baseline.empty() ? "baseline" : s.baseline) << " |"
     << (any_wrapper ? " median minus wrapper |" : "") << "\n";
  md << "|---|---:|---:|---:|---:|---:|" << (any_wrapper ? "---:|" : "") << "\n";
  for (const auto& t : tools) {
    if (t.batch) continue;
    Stats st = compute_stats(t.latency_ns);
    md << "| " << t.name << (t.error ? " (FAILED)" : "") << " | ";
    if (st.n == 0) {
      md << "— | — | — | — | — |" << (any_wrapper ? " — |" : "") << "\n";
      continue;
    }
    md << fmt(st.median_ms) << " | " << fmt(st.p99_ms) << " | " << fmt(st.mean_ms) << " | " << fmt(st.min_ms) << " | "
       << (base_median > 0 ? fmt(st.median_ms / base_median, 1) + "×" : "—") << " |";
    if (any_wrapper) {
      auto adj = adjusted_median(tools, t, s.baseline);
      md << " " << (adj ? fmt(*adj) : "") << " |";
    }
    md << "\n";
  }
  if (any_wrapper)
    md << "\n\"median minus wrapper\" = the tool's median − (the wrapper row's median − the " << s.baseline
       << " median): an estimate of the tool alone, without the wrapper it needs on this host.\n";

  if (s.throughput > 0) {
    md << "\n## Throughput (jobs/s, " << s.throughput << " jobs per cell, in " << s.blocks
       << " interleaved blocks)\n\n";
    md << "| tool |";
    for (int p : s.parallel) md << " " << p << " worker" << (p == 1 ? "" : "s") << " |";
    for (int p : s.parallel) md << " median ms @" << p << " |";
    md << "\n|---|";
    for (size_t i = 0; i < 2 * s.parallel.size(); ++i) md << "---:|";
    md << "\n";
    for (const auto& t : tools) {
      md << "| " << t.name << (t.error ? " (FAILED)" : "") << " |";
      for (int p : s.parallel) {
        auto it = std::find_if(t.throughput.begin(), t.throughput.end(), [&](auto& r) { return r.parallel == p; });
        md << " " << (it != t.throughput.end() && it->seconds > 0 ? fmt(double(it->jobs) / it->seconds, 0) : "—")
           << " |";
      }
      for (int p : s.parallel) {
        auto it = std::find_if(t.throughput.begin(), t.throughput.end(), [&](auto& r) { return r.parallel == p; });
        md << " " << (it != t.throughput.end() && it->latency.n ? fmt(it->latency.median_ms) : "—") << " |";
      }
      md << "\n";
    }
    md << "\n\"median ms @P\" is the per-job latency while P jobs run at once.\n";
  }

  md << "\n## Exact command lines\n\n";
  for (const auto& t : tools) {
    md << "- **" << t.name << "**" << (t.batch ? " (batch: one process per block of jobs)" : "") << ": `"
       << t.command_line << "`\n";
    if (!t.description.empty()) md << "  - isolation: " << t.description << "\n";
  }
  bool any_error = false;
  for (const auto& t : tools) any_error |= t.error.has_value();
  if (any_error) {
    md << "\n## Errors\n\n";
    for (const auto& t : tools)
      if (t.error) md << "- **" << t.name << "**: " << md_escape(*t.error) << "\n";
  }
  if (!s.notes.empty()) md << "\n" << s.notes << (s.notes.back() == '\n' ? "" : "\n");
  return md.str();
}

std::pair<std::string, std::string> split_kv(const std::string& s, const char* option) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument(std::string(option) + " wants NAME=VALUE, got: " + s);
  return {s.substr(0, eq), s.substr(eq + 1)};
}

// ---- main ----------------------------------------------------------------------------------

int run(int argc, char** argv) {
  CLI::App app{"compare: per-job latency and throughput of launchers, interleaved. "
               "Usage: compare [options] -- NAME 'COMMAND LINE' [NAME 'COMMAND LINE' ...]"};
  Settings s;
  std::string json_path, md_path, notes_path;
  std::vector<std::string> describe, wrappers, batches, meta, pairs;
  bool progress = isatty(2);
  app.add_option("--runs", s.runs, "timed runs per tool")->check(CLI::Range(1, 10'000'000));
  app.add_option("--warmup", s.warmup, "warm-up runs per tool, not counted")->check(CLI::Range(0, 10'000'000));
  app.add_option("--gap-ms", s.gap_ms, "pause after each latency run, outside the timing")->check(CLI::Range(0, 10'000));
  app.add_option("--baseline", s.baseline, "tool whose median the others are divided by");
  app.add_option("--throughput", s.throughput, "jobs per tool in the throughput test (0: skip it)")
      ->check(CLI::Range(0, 100'000'000));
  app.add_option("--parallel", s.parallel, "workers in the throughput test, e.g. 1,2")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  app.add_option("--blocks", s.blocks, "throughput jobs are cut into this many interleaved blocks")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--json", json_path, "write the results as JSON here");
  app.add_option("--markdown", md_path, "write the results as Markdown here");
  app.add_option("--title", s.title, "title of the Markdown report");
  app.add_option("--describe", describe, "NAME=TEXT: the isolation a tool gives, for the report")->allow_extra_args(false);
  app.add_option("--wrapper", wrappers, "NAME=ROW: NAME runs under a wrapper whose cost row ROW measures")->allow_extra_args(false);
  app.add_option("--batch", batches, "NAME=COMMAND: a tool that runs {n} jobs in one process (throughput only)")->allow_extra_args(false);
  app.add_option("--meta", meta, "KEY=VALUE: recorded in the report as is")->allow_extra_args(false);
  app.add_option("--notes", notes_path, "Markdown file appended to the report");
  app.add_flag("--guard,!--no-guard", s.guard, "throw away and redo rounds/blocks disturbed by other work (default on)");
  app.add_option("--guard-max-cpus", s.guard_max_share, "other work allowed during a round or block, in CPUs")
      ->check(CLI::Range(0.0, 1024.0));
  app.add_option("--guard-max-wait", s.guard_max_wait, "seconds to wait for quiet in all before measuring anyway")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--progress,!--no-progress", progress, "progress on stderr (default: when it is a terminal)");
  app.add_option("tools", pairs, "NAME 'COMMAND LINE' pairs")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (pairs.size() % 2 != 0) throw std::invalid_argument("tools come in NAME 'COMMAND LINE' pairs; the last name has no command");

  std::vector<Tool> tools;
  auto add_tool = [&](const std::string& name, const std::string& line, bool batch) {
    if (name.empty() || name.find_first_of(" /|`") != std::string::npos)
      throw std::invalid_argument("bad tool name: \"" + name + "\" (no spaces, /, | or `)");
    if (find_tool(tools, name)) throw std::invalid_argument("tool named twice: " + name);
    Tool t;
    t.name = name;
    t.command_line = line;
    t.words = split_words(line);
    if (t.words[0] == "@queue") {
      if (t.words.size() < 2 || t.words.size() > 3) throw std::invalid_argument(name + ": @queue ROOTFS [POLICY]");
      size_t parallel = s.parallel.empty() ? 1 : size_t(*std::max_element(s.parallel.begin(), s.parallel.end()));
      t.queue = std::make_shared<InProcessQueue>(t.words[1], t.words.size() == 3 ? t.words[2] : "default", parallel);
      t.program = "@queue";
      tools.push_back(std::move(t));
      return;
    }
    if (t.words[0].find('{') != std::string::npos) throw std::invalid_argument(name + ": the program itself cannot be a template");
    t.program = resolve_program(t.words[0]);
    t.batch = batch;
    tools.push_back(std::move(t));
  };
  for (size_t i = 0; i < pairs.size(); i += 2) add_tool(pairs[i], pairs[i + 1], false);
  for (const auto& b : batches) {
    auto [name, line] = split_kv(b, "--batch");
    add_tool(name, line, true);
  }
  for (const auto& d : describe) {
    auto [name, text] = split_kv(d, "--describe");
    auto it = std::find_if(tools.begin(), tools.end(), [&](auto& t) { return t.name == name; });
    if (it == tools.end()) throw std::invalid_argument("--describe: no tool named " + name);
    it->description = text;
  }
  for (const auto& w : wrappers) {
    auto [name, row] = split_kv(w, "--wrapper");
    auto it = std::find_if(tools.begin(), tools.end(), [&](auto& t) { return t.name == name; });
    if (it == tools.end() || !find_tool(tools, row)) throw std::invalid_argument("--wrapper: unknown tool in " + w);
    it->wrapper = row;
  }
  for (const auto& m : meta) s.meta.push_back(split_kv(m, "--meta"));
  if (!s.baseline.empty() && !find_tool(tools, s.baseline)) throw std::invalid_argument("--baseline: no tool named " + s.baseline);
  if (!notes_path.empty()) {
    std::ifstream f(notes_path);
    if (!f) throw std::runtime_error("cannot read --notes " + notes_path);
    s.notes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::sort(s.parallel.begin(), s.parallel.end());
  s.parallel.erase(std::unique(s.parallel.begin(), s.parallel.end()), s.parallel.end());

  const std::string date = utc_now();
  const json machine = machine_json();
  const int64_t start = now_ns();
  LoadGuard guard(s.guard, s.guard_max_share, s.guard_max_wait);
  guard.wait_for_quiet(progress);

  // Latency: interleaved rounds.
  {
    Stdio io;
    std::vector<Command> cmds;
    for (auto& t : tools) {
      cmds.emplace_back(t.words, t.program);
      if (!t.batch) t.latency_ns.reserve(s.runs);
    }
    const size_t rounds = s.warmup + s.runs;
    // Rounds are judged in chunks of at least 250 ms: other load is sampled in clock ticks
    // (10 ms), too coarse to judge one short round. A disturbed chunk is thrown away whole and
    // its rounds are run again, so every tool keeps the same share of quiet and busy moments.
    constexpr double kChunkSeconds = 0.25;
    std::vector<std::vector<int64_t>> pending(tools.size());
    size_t chunk_first = 0;
    int64_t chunk_start = now_ns();
    guard.mark();
    for (size_t r = 0; r < rounds; ++r) {
      for (size_t i = 0; i < tools.size(); ++i) {
        Tool& t = tools[i];
        if (t.batch || t.error) continue;
        cmds[i].set_id(fresh_id(t.name));
        RunOutcome out = t.queue ? run_in_process(*t.queue) : run_once(cmds[i], io);
        if (out.error) {
          fail(t, (r < s.warmup ? "warm-up run " + std::to_string(r) : "run " + std::to_string(r - s.warmup)) + ": " +
                      *out.error);
          continue;
        }
        if (r >= s.warmup) pending[i].push_back(out.ns);
        if (s.gap_ms) std::this_thread::sleep_for(std::chrono::milliseconds(s.gap_ms));
      }
      if (r + 1 == s.warmup) {  // warm-up is never judged; the first chunk starts after it
        chunk_first = r + 1;
        chunk_start = now_ns();
        guard.mark();
      } else if (r >= s.warmup && (double(now_ns() - chunk_start) / 1e9 >= kChunkSeconds || r + 1 == rounds)) {
        if (guard.accept()) {
          for (size_t i = 0; i < tools.size(); ++i)
            tools[i].latency_ns.insert(tools[i].latency_ns.end(), pending[i].begin(), pending[i].end());
        } else {
          guard.wait_for_quiet(progress);
          r = chunk_first - 1;  // run the chunk's rounds again
        }
        for (auto& v : pending) v.clear();
        chunk_first = r + 1;
        chunk_start = now_ns();
        guard.mark();
      }
      if (progress && (r % 10 == 0 || r + 1 == rounds))
        std::fprintf(stderr, "\rcompare: latency round %zu/%zu   ", r + 1, rounds);
    }
    if (progress) std::fprintf(stderr, "\n");
  }

  // Throughput: for each P, the tools take turns block by block.
  if (s.throughput > 0) {
    for (int p : s.parallel) {
      std::vector<int64_t> elapsed(tools.size(), 0);
      std::vector<std::vector<int64_t>> lat(tools.size());
      // A short warm-up at this parallelism, not counted.
      for (size_t i = 0; i < tools.size(); ++i) {
        if (tools[i].error) continue;
        if (tools[i].batch)
          run_batch(tools[i], std::max<size_t>(1, s.throughput / s.blocks), p);
        else
          (void)run_block(tools[i], size_t(4 * p), p, lat[i]);
        lat[i].clear();
      }
      for (size_t b = 0; b < s.blocks; ++b) {
        const size_t jobs = s.throughput / s.blocks + (b < s.throughput % s.blocks ? 1 : 0);
        for (size_t i = 0; i < tools.size(); ++i) {
          if (tools[i].error || jobs == 0) continue;
          // A block disturbed by other work is thrown away and run again after a quiet spell.
          for (;;) {
            std::vector<int64_t> block_lat;
            guard.mark();
            const int64_t ns = tools[i].batch ? run_batch(tools[i], jobs, p) : run_block(tools[i], jobs, p, block_lat);
            if (tools[i].error || guard.accept()) {
              elapsed[i] += ns;
              lat[i].insert(lat[i].end(), block_lat.begin(), block_lat.end());
              break;
            }
            guard.wait_for_quiet(progress);
          }
        }
        if (progress)
          std::fprintf(stderr, "\rcompare: throughput, %d worker%s, block %zu/%zu   ", p, p == 1 ? "" : "s", b + 1,
                       s.blocks);
      }
      if (progress) std::fprintf(stderr, "\n");
      for (size_t i = 0; i < tools.size(); ++i) {
        if (tools[i].error) continue;
        ThroughputResult r;
        r.parallel = p;
        r.jobs = s.throughput;
        r.seconds = double(elapsed[i]) / 1e9;
        r.latency = compute_stats(lat[i]);
        tools[i].throughput.push_back(r);
      }
    }
  }

  const double total = double(now_ns() - start) / 1e9;
  s.guard_report = guard.report();
  const std::string md = to_markdown(s, machine, date, tools, total);
  write_file(json_path, to_json(s, machine, date, tools, total).dump(2) + "\n");
  write_file(md_path, md);
  std::cout << md;
  for (const auto& t : tools)
    if (t.error) return 1;
  return 0;
}

}  // namespace
}  // namespace cellblock::bench

int main(int argc, char** argv) { return cellblock::bench::main_guarded("compare", cellblock::bench::run, argc, argv); }
