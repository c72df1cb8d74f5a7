// The cgroup v1 driver: one directory per job in each hierarchy it uses (memory, cpuacct, pids,
// blkio, freezer, and cpu when the job has a `cpus` limit and cpu is not co-mounted with cpuacct).
//
// Cost per job is what matters here (the target is about 1 ms per job in all): the supervisor
// opens its sv- directory once per hierarchy, jobs address files as "job-<n>/<file>" relative to
// those fds (no per-job directory fds), only the limits that are set get written, and removing an
// empty job is one cgroup.procs read plus an rmdir per hierarchy.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <stdexcept>

#include "executor/base/process_wide.h"
#include "executor/base/sys_error.h"
#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"

namespace cellblock {

namespace {

using std::chrono::steady_clock;

// One hierarchy as the supervisor holds it.
struct V1Hier {
  CgroupHierarchy h;
  std::string subtree_path;  // <base>/<subtree>
  std::string sv_path;       // <base>/<subtree>/sv-<pid>-<start>
  UniqueFd subtree_fd;
  UniqueFd sv_fd;
  bool created_subtree = false;  // this supervisor made <subtree>: it removes it if empty
};

// What the driver and its jobs share. The sv- directories go when the last owner does, so a job
// may outlive the driver object.
struct V1State {
  std::shared_ptr<const CgroupFsOps> ops_owner;
  const CgroupFsOps* ops = &kernel_cgroup_fs();
  std::string sv_name;
  std::vector<V1Hier> hier;
  int memory = -1, cpuacct = -1, pids = -1, cpu = -1, blkio = -1, freezer = -1;
  // Files not every kernel has, probed once on the sv- directory.
  bool has_memsw = false;        // CONFIG_MEMCG_SWAP and swap accounting on
  bool has_pids_peak = false;    // pids.peak: 6.1+ (older kernels: sample() keeps the peak)
  bool has_usage_split = false;  // cpuacct.usage_user/usage_sys in ns: 4.7+
  bool has_blkio_recursive = false;

  V1State() = default;
  V1State(const V1State&) = delete;
  V1State& operator=(const V1State&) = delete;

  ~V1State() {
    for (auto& vh : hier) {
      if (!vh.sv_fd) continue;
      vh.sv_fd.reset();
      if (int err = remove_dir_retrying(*ops, vh.subtree_fd.get(), sv_name.c_str())) {
        // Jobs still inside (they hold this state, so only after a failed remove()): the next
        // supervisor's remove_leftovers() takes the directory once this process is gone.
        spdlog::warn("cgroup: cannot remove {}: {}", cellblock::quoted(vh.sv_path),
                     std::strerror(err));
        continue;
      }
      // Only a subtree we made, and only if no other supervisor is in it (EBUSY otherwise):
      // one that an administrator made, perhaps with limits on it, stays.
      if (vh.created_subtree) {
        remove_subtree_if_empty(*ops, vh.h.base, std::filesystem::path(vh.subtree_path).filename(),
                                vh.subtree_fd.get());
      }
    }
  }

  CgroupRef ref(int h, std::string rel) const {
    return {hier[h].sv_fd.get(), std::move(rel), hier[h].sv_path};
  }
};

// Splits `total` into user and system time in the ratio user:system (cputime_adjust in
// kernel/sched/cputime.c: with no samples at all, the time counts as user time).
void split_cpu_time(uint64_t total, uint64_t user, uint64_t system, CgroupStats& out) {
  if (system == 0) {
    out.cpu_user_ns = total;
    out.cpu_system_ns = 0;
    return;
  }
  auto scaled = static_cast<unsigned __int128>(total) * user / (user + system);
  out.cpu_user_ns = static_cast<uint64_t>(scaled);
  out.cpu_system_ns = total - out.cpu_user_ns;
}

// Freezes the cgroup, SIGKILLs every task in it and thaws it. Frozen tasks can neither exit nor
// fork, so the pid list read while frozen is exact and none of its pids can be reused before the
// kill; the signals are delivered when the tasks thaw. If the cgroup does not reach FROZEN in
// time (a task in uninterruptible sleep cannot freeze), it falls back to the pidfd kill.
std::vector<pid_t> freeze_and_kill(const CgroupFsOps& ops, const CgroupRef& fz) {
  const std::string state = fz.file("freezer.state");
  write_file_at(fz.parent_fd, state.c_str(), "FROZEN", fz.parent_shown, ops);
  struct Thaw {
    const CgroupFsOps& ops;
    const CgroupRef& fz;
    const std::string& state;
    ~Thaw() {
      if (int err = try_write_file_at(fz.parent_fd, state.c_str(), "THAWED", ops)) {
        spdlog::error("cgroup: write({}, \"THAWED\"): {}",
                      cellblock::quoted(join_path(fz.parent_shown, state)), std::strerror(err));
      }
    }
  } thaw{ops, fz, state};

  auto deadline = steady_clock::now() + std::chrono::milliseconds(200);
  std::chrono::microseconds step(20);
  bool frozen = false;
  while (true) {
    auto text = read_file_at(fz.parent_fd, state.c_str(), fz.parent_shown);
    if (text->rfind("FROZEN", 0) == 0) {
      frozen = true;
      break;
    }
    if (steady_clock::now() >= deadline) break;
    backoff_sleep(step, std::chrono::milliseconds(1));
  }
  if (!frozen) return kill_listed_tasks(fz);

  std::string procs = fz.file("cgroup.procs");
  auto pids = parse_pids(*read_file_at(fz.parent_fd, procs.c_str(), fz.parent_shown));
  for (pid_t pid : pids) {
    if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
      throw_sys("kill(" + std::to_string(pid) + ", SIGKILL)");
    }
  }
  return pids;
}

// Kills every task of a cgroup and returns when `probe`'s cgroup.procs is empty. `freezer` is
// the same cgroup in the freezer hierarchy, or null. Copes with tasks that fork while it runs.
void kill_v1(const CgroupFsOps& ops, const CgroupRef& probe, const CgroupRef* freezer) {
  if (!has_tasks(probe)) return;  // the usual case: the job's init has exited and taken all
  const std::string procs = probe.file("cgroup.procs");
  const auto start = steady_clock::now();
  auto last_round = start - std::chrono::seconds(1);
  std::set<pid_t> signalled;
  std::chrono::microseconds step(50);
  while (true) {
    auto pids = parse_pids(*read_file_at(probe.parent_fd, procs.c_str(), probe.parent_shown));
    if (pids.empty()) return;
    auto now = steady_clock::now();
    if (now - start >= kKillTimeout) {
      throw SysError(ETIMEDOUT, "kill every task in " + cellblock::quoted(probe.shown()) + ": " +
                                    std::to_string(pids.size()) + " still there after " +
                                    std::to_string(kKillTimeout.count()) + " ms");
    }
    // Killed tasks take a moment to leave (exit_mm of a big job). Kill again only when a pid we
    // did not signal shows up, or every 100 ms in case a signal was lost to a race.
    bool fresh =
        std::any_of(pids.begin(), pids.end(), [&](pid_t p) { return !signalled.count(p); });
    if (fresh || now - last_round >= std::chrono::milliseconds(100)) {
      auto sent = freezer ? freeze_and_kill(ops, *freezer) : kill_listed_tasks(probe);
      signalled.insert(sent.begin(), sent.end());
      last_round = now;
      step = std::chrono::microseconds(50);
    } else {
      backoff_sleep(step);
    }
  }
}

class V1Job final : public JobCgroup {
 public:
  V1Job(std::shared_ptr<V1State> st, std::string dir, bool with_cpu)
      : st_(std::move(st)), dir_(std::move(dir)) {
    const V1State& s = *st_;
    for (int i = 0; i < static_cast<int>(s.hier.size()); ++i) {
      // A separate cpu hierarchy only holds the bandwidth limit; skip it when there is none.
      if (i == s.cpu && i != s.cpuacct && !with_cpu) continue;
      if (s.ops->make_dir(s.hier[i].sv_fd.get(), dir_.c_str()) != 0) {
        int err = errno;
        remove_dirs_quietly();
        throw SysError(err, "mkdir(" + cellblock::quoted(join_path(s.hier[i].sv_path, dir_)) + ")");
      }
      used_.push_back(i);
    }
  }

  ~V1Job() override { remove_logging_errors(*this, dir_); }

  // Writes the limits that are set; the kernel's defaults are "no limit".
  void apply(const CgroupLimits& limits) {
    const V1State& s = *st_;
    if (limits.memory_bytes) {
      std::string v = to_dec(limits.memory_bytes);
      write(s.memory, "memory.limit_in_bytes", v);
      // memsw limits memory+swap: the same value means no swap on top. It must be written after
      // limit_in_bytes, since the kernel keeps memsw >= the memory limit.
      if (s.has_memsw) write(s.memory, "memory.memsw.limit_in_bytes", v);
    }
    if (limits.cpus) {
      // A new cgroup's period is already the default 100 ms, so only the quota needs writing.
      write(s.cpu, "cpu.cfs_quota_us", to_dec(cpu_quota_us(*limits.cpus).first));
    }
    if (limits.pids) write(s.pids, "pids.max", to_dec(limits.pids));
    for (const auto& d : limits.io) {
      std::string dev = std::to_string(d.major) + ":" + std::to_string(d.minor) + " ";
      if (d.read_bps) write(s.blkio, "blkio.throttle.read_bps_device", dev + to_dec(d.read_bps));
      if (d.write_bps) write(s.blkio, "blkio.throttle.write_bps_device", dev + to_dec(d.write_bps));
      if (d.read_iops) write(s.blkio, "blkio.throttle.read_iops_device", dev + to_dec(d.read_iops));
      if (d.write_iops) {
        write(s.blkio, "blkio.throttle.write_iops_device", dev + to_dec(d.write_iops));
      }
    }
  }

  int clone_into_fd() const override { return -1; }

  void add_process(pid_t pid) override {
    std::string v = to_dec(static_cast<uint64_t>(pid));
    for (int i : used_) write(i, "cgroup.procs", v);
  }

  std::vector<int> join_fds() override {
    if (join_fds_.empty()) {
      for (int i : used_) {
        std::string rel = dir_ + "/tasks";
        const auto& h = st_->hier[i];
        UniqueFd fd(::openat(h.sv_fd.get(), rel.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) {
          int err = errno;
          join_fds_.clear();
          throw SysError(err,
                         "open(" + cellblock::quoted(join_path(h.sv_path, rel)) + ", O_WRONLY)");
        }
        join_fds_.push_back(std::move(fd));
      }
    }
    std::vector<int> out;
    for (const auto& fd : join_fds_) out.push_back(fd.get());
    return out;
  }

  void joined() override { join_fds_.clear(); }

  uint64_t cpu_usage_ns() override {
    if (!cpu_usage_.is_open()) {
      std::string rel = dir_ + "/cpuacct.usage";
      const auto& h = st_->hier[st_->cpuacct];
      UniqueFd fd(::openat(h.sv_fd.get(), rel.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throw_sys("open(" + cellblock::quoted(join_path(h.sv_path, rel)) + ", O_RDONLY)");
      cpu_usage_ = PolledFile(std::move(fd), join_path(h.sv_path, rel));
    }
    char buf[32];
    auto v = parse_u64(cpu_usage_.read(buf, sizeof buf));
    if (!v)
      throw std::runtime_error("cpuacct.usage of " + cellblock::quoted(dir_) + ": not a number");
    return *v;
  }

  uint64_t oom_kills() override {
    // "oom_kill N" in memory.oom_control: 4.13+. Older kernels have no counter: report 0.
    return find_key_u64(read(st_->memory, "memory.oom_control"), "oom_kill").value_or(0);
  }

  bool needs_sampling() const override { return !st_->has_pids_peak; }

  void sample() override {
    if (st_->has_pids_peak) return;
    pids_peak_ = std::max(pids_peak_, read_u64(st_->pids, "pids.current"));
  }

  CgroupStats stats() override {
    const V1State& s = *st_;
    CgroupStats out;
    out.cpu_usage_ns = read_u64(s.cpuacct, "cpuacct.usage");
    uint64_t user = 0, system = 0;
    if (s.has_usage_split) {
      user = read_u64(s.cpuacct, "cpuacct.usage_user");
      system = read_u64(s.cpuacct, "cpuacct.usage_sys");
    } else {
      // cpuacct.stat counts USER_HZ ticks, not nanoseconds.
      std::string text = read(s.cpuacct, "cpuacct.stat");
      uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
      user = find_key_u64(text, "user").value_or(0) * ns_per_tick;
      system = find_key_u64(text, "system").value_or(0) * ns_per_tick;
    }
    // usage_user/usage_sys are sampled at timer ticks, and in a VM the ticks the hypervisor
    // stole are left out: on this build host they add up to 40-70% of cpuacct.usage when it is
    // busy. Split the exact total in their proportion, as the kernel does for getrusage() and
    // for v2's cpu.stat (cputime_adjust), so v1 and v2 report alike and user+system = usage.
    split_cpu_time(out.cpu_usage_ns, user, system, out);
    out.memory_peak_bytes = read_u64(s.memory, "memory.max_usage_in_bytes");
    out.oom_kills = oom_kills();
    if (s.has_pids_peak) {
      out.pids_peak = read_u64(s.pids, "pids.peak");
    } else {
      sample();
      out.pids_peak = pids_peak_;
    }
    if (s.blkio >= 0) {
      std::string text =
          read(s.blkio, s.has_blkio_recursive ? "blkio.throttle.io_service_bytes_recursive"
                                              : "blkio.throttle.io_service_bytes");
      out.io_read_bytes = sum_blkio_op(text, "Read");
      out.io_write_bytes = sum_blkio_op(text, "Write");
    }
    return out;
  }

  void kill_all() override {
    if (removed_) return;
    const V1State& s = *st_;
    bool use_freezer = s.freezer >= 0;
    CgroupRef probe = s.ref(use_freezer ? s.freezer : s.memory, dir_);
    kill_v1(*s.ops, probe, use_freezer ? &probe : nullptr);
  }

  void remove() override {
    if (removed_) return;
    kill_all();
    cpu_usage_ = PolledFile();
    join_fds_.clear();
    const V1State& s = *st_;
    int first_err = 0;
    std::string first_path;
    for (auto it = used_.rbegin(); it != used_.rend(); ++it) {
      const V1Hier& vh = s.hier[*it];
      int err = remove_dir_retrying(*s.ops, vh.sv_fd.get(), dir_.c_str());
      if (err == EBUSY) {
        // A task in this hierarchy only: add_process() failed half-way. Kill it here too.
        kill_v1(*s.ops, s.ref(*it, dir_), nullptr);
        err = remove_dir_retrying(*s.ops, vh.sv_fd.get(), dir_.c_str());
      }
      if (err && !first_err) {
        first_err = err;
        first_path = join_path(vh.sv_path, dir_);
      }
    }
    if (first_err) throw SysError(first_err, "rmdir(" + cellblock::quoted(first_path) + ")");
    removed_ = true;
  }

  std::vector<std::filesystem::path> paths() const override {
    std::vector<std::filesystem::path> out;
    for (int i : used_) out.emplace_back(join_path(st_->hier[i].sv_path, dir_));
    return out;
  }

 private:
  void write(int h, const char* file, std::string_view value) {
    std::string rel = dir_ + "/" + file;
    write_file_at(st_->hier[h].sv_fd.get(), rel.c_str(), value, st_->hier[h].sv_path, *st_->ops);
  }
  std::string read(int h, const char* file) {
    std::string rel = dir_ + "/" + file;
    return *read_file_at(st_->hier[h].sv_fd.get(), rel.c_str(), st_->hier[h].sv_path);
  }
  uint64_t read_u64(int h, const char* file) {
    std::string rel = dir_ + "/" + file;
    return read_u64_at(st_->hier[h].sv_fd.get(), rel.c_str(), st_->hier[h].sv_path);
  }
  void remove_dirs_quietly() {
    for (int i : used_) st_->ops->remove_dir(st_->hier[i].sv_fd.get(), dir_.c_str());
    used_.clear();
  }

  std::shared_ptr<V1State> st_;
  std::string dir_;                 // "job-<name>"
  std::vector<int> used_;           // hierarchies this job has a directory in
  PolledFile cpu_usage_;            // cpuacct.usage, opened on first use
  std::vector<UniqueFd> join_fds_;  // job-<n>/tasks per used hierarchy, opened by join_fds()
  uint64_t pids_peak_ = 0;
  bool removed_ = false;
};

class V1Driver final : public CgroupDriver {
 public:
  explicit V1Driver(std::shared_ptr<V1State> st) : CgroupDriver(CgroupMode::v1), st_(std::move(st)) {}

  std::vector<std::string> remove_leftovers() override {
    const V1State& s = *st_;
    std::set<std::string> gone;
    for (const auto& vh : s.hier) {
      for (const auto& name : list_subdirs(vh.subtree_fd.get(), vh.subtree_path)) {
        if (name == s.sv_name) continue;
        auto id = parse_supervisor_dir_name(name);
        if (id && supervisor_is_gone(id->first, id->second)) gone.insert(name);
      }
    }
    std::vector<std::string> removed;
    for (const auto& name : gone) {
      try {
        remove_tree(name, removed);
      } catch (const std::exception& e) {
        // One stuck leftover must not keep the others: log it, the next start tries again.
        spdlog::error("cgroup: removing leftover {}: {}", cellblock::quoted(name), e.what());
      }
    }
    return removed;
  }

  std::vector<std::filesystem::path> supervisor_dirs() const override {
    std::vector<std::filesystem::path> out;
    for (const auto& vh : st_->hier) out.emplace_back(vh.sv_path);
    return out;
  }

  std::optional<uint64_t> memory_limit() const override {
    return read_memory_limit(st_->hier[st_->memory].h.base, "memory.limit_in_bytes");
  }

 private:
  std::unique_ptr<JobCgroup> create_job(std::string dir, const CgroupLimits& limits) override {
    const std::string_view name = std::string_view(dir).substr(4);  // after "job-"
    if (limits.cpus && st_->cpu < 0) {
      throw std::runtime_error("cpus limit for job " + cellblock::quoted(name) +
                               ": the cgroup v1 cpu controller is not mounted");
    }
    if (!limits.io.empty() && st_->blkio < 0) {
      throw std::runtime_error("io limit for job " + cellblock::quoted(name) +
                               ": the cgroup v1 blkio controller is not mounted");
    }
    auto job = std::make_unique<V1Job>(st_, std::move(dir), limits.cpus.has_value());
    job->apply(limits);  // on failure ~V1Job removes the directories
    return job;
  }

  // Removes <subtree>/<rel> in every hierarchy that has it, children first, killing the tasks
  // in each cgroup before its rmdir.
  void remove_tree(const std::string& rel, std::vector<std::string>& removed) {
    const V1State& s = *st_;
    std::set<std::string> children;
    std::vector<int> present;
    for (int i = 0; i < static_cast<int>(s.hier.size()); ++i) {
      const V1Hier& vh = s.hier[i];
      UniqueFd fd(::openat(vh.subtree_fd.get(), rel.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) {
        if (errno == ENOENT) continue;
        throw_sys("open(" + cellblock::quoted(join_path(vh.subtree_path, rel)) + ", O_DIRECTORY)");
      }
      present.push_back(i);
      for (auto& c : list_subdirs(fd.get(), join_path(vh.subtree_path, rel))) children.insert(c);
    }
    for (const auto& c : children) remove_tree(rel + "/" + c, removed);

    auto ref = [&](int i) {
      return CgroupRef{s.hier[i].subtree_fd.get(), rel, s.hier[i].subtree_path};
    };
    bool freezer_here = std::find(present.begin(), present.end(), s.freezer) != present.end();
    if (freezer_here) {
      CgroupRef fz = ref(s.freezer);
      kill_v1(*s.ops, fz, &fz);
    }
    for (int i : present) {
      kill_v1(*s.ops, ref(i), nullptr);  // after the freezer round, normally one empty read
      if (int err = remove_dir_retrying(*s.ops, s.hier[i].subtree_fd.get(), rel.c_str())) {
        throw SysError(err,
                       "rmdir(" + cellblock::quoted(join_path(s.hier[i].subtree_path, rel)) + ")");
      }
      removed.push_back(join_path(s.hier[i].subtree_path, rel));
    }
  }

  std::shared_ptr<V1State> st_;
};

}  // namespace

namespace {

// Makes the subtree and this process's sv- directory in every hierarchy and probes them.
std::unique_ptr<V1State> make_v1_state(const CgroupLayout& layout, const CgroupConfig& config) {
  auto st = std::make_unique<V1State>();
  if (config.fs_ops) {
    st->ops_owner = config.fs_ops;
    st->ops = config.fs_ops.get();
  }
  st->sv_name = own_supervisor_dir_name();
  const CgroupFsOps& ops = *st->ops;
  for (const auto& h : layout.hierarchies) {
    V1Hier vh;
    vh.h = h;
    vh.subtree_path = join_path(h.base, config.subtree);
    UniqueFd base = open_dir(h.base);
    // The subtree is shared by every supervisor below this cgroup. One that created it removes
    // it at exit when it is empty, so another may remove it between our mkdir and our sv-
    // mkdir (ENOENT): make it again then.
    for (int attempt = 0;; ++attempt) {
      vh.created_subtree = ops.make_dir(base.get(), config.subtree.c_str()) == 0;
      if (!vh.created_subtree && errno != EEXIST) {
        throw_sys("mkdir(" + cellblock::quoted(vh.subtree_path) + ")");
      }
      vh.subtree_fd = open_dir_at(base.get(), config.subtree.c_str(), h.base);
      // EEXIST: the name is this process's own (pid and start time), so the directory is ours.
      if (ops.make_dir(vh.subtree_fd.get(), st->sv_name.c_str()) == 0 || errno == EEXIST) break;
      if (errno != ENOENT || attempt == 3) {
        throw_sys("mkdir(" + cellblock::quoted(join_path(vh.subtree_path, st->sv_name)) + ")");
      }
    }
    vh.sv_path = join_path(vh.subtree_path, st->sv_name);
    vh.sv_fd = open_dir_at(vh.subtree_fd.get(), st->sv_name.c_str(), vh.subtree_path);
    int index = static_cast<int>(st->hier.size());
    if (h.has("memory")) st->memory = index;
    if (h.has("cpuacct")) st->cpuacct = index;
    if (h.has("pids")) st->pids = index;
    if (h.has("cpu")) st->cpu = index;
    if (h.has("blkio")) st->blkio = index;
    if (h.has("freezer")) st->freezer = index;
    st->hier.push_back(std::move(vh));
  }
  if (st->memory < 0 || st->cpuacct < 0 || st->pids < 0) {
    throw std::runtime_error("cgroup v1: memory, cpuacct and pids hierarchies are all needed");
  }
  st->has_memsw = exists_at(st->hier[st->memory].sv_fd.get(), "memory.memsw.limit_in_bytes");
  st->has_pids_peak = exists_at(st->hier[st->pids].sv_fd.get(), "pids.peak");
  st->has_usage_split = exists_at(st->hier[st->cpuacct].sv_fd.get(), "cpuacct.usage_user");
  st->has_blkio_recursive =
      st->blkio >= 0 &&
      exists_at(st->hier[st->blkio].sv_fd.get(), "blkio.throttle.io_service_bytes_recursive");
  return st;
}

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(const CgroupLayout& layout,
                                                    const CgroupConfig& config) {
  if (config.subtree.empty() || config.subtree.find('/') != std::string::npos ||
      config.subtree == "." || config.subtree == "..") {
    throw std::invalid_argument("cgroup subtree " + cellblock::quoted(config.subtree) +
                                ": must be one path component");
  }
  // The sv- directories are the process's: every driver of this process on the same
  // hierarchies shares them (process_wide.h).
  std::shared_ptr<V1State> st = ProcessWide<V1State>::instance().get(
      driver_state_key(layout, config), [&] { return make_v1_state(layout, config); });
  return std::make_unique<V1Driver>(std::move(st));
}

}  // namespace cellblock
