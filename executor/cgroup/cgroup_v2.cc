// The cgroup v2 driver: one directory per job in the unified hierarchy.
//
// cgroup v2 lets a cgroup enable controllers for its children (cgroup.subtree_control) only
// while no process sits in it, the root excepted ("no internal processes", see
// Documentation/admin-guide/cgroup-v2.rst). A supervisor started by systemd with Delegate=yes
// sits in its unit's cgroup C, alone. As systemd's own delegation docs advise, it then moves
// itself into a leaf, C/<subtree>/supervisor, and enables the controllers in C, C/<subtree> and
// its sv- directory:
//
//   C                          subtree_control: +memory +cpu +pids +io
//   C/<subtree>                subtree_control: the same
//   C/<subtree>/supervisor     the supervisor process (a leaf)
//   C/<subtree>/sv-<pid>-<t>   subtree_control: the same
//   C/<subtree>/sv-<pid>-<t>/job-<name>
//
// It moves only itself: if C holds other processes it stops with an error rather than move
// processes it did not start. In the root cgroup (exempt from the rule) nothing moves. A process
// already in C/<subtree>/supervisor (a second driver, or a child forked after the move) takes C
// as its base. The leaf is left in place at exit: the process cannot leave it (C has controllers
// enabled, so it admits no process), and systemd removes C with the unit.
#include <fcntl.h>
#include <poll.h>
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

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct V2State {
  std::shared_ptr<const CgroupFsOps> ops_owner;
  const CgroupFsOps* ops = &kernel_cgroup_fs();
  std::string base_path;  // C
  std::string subtree_name;
  std::string subtree_path;  // C/<subtree>
  bool created_subtree = false;
  std::string sv_name;
  std::string sv_path;
  UniqueFd subtree_fd;
  UniqueFd sv_fd;
  bool has_io = false;           // io controller enabled (io.max, io.stat)
  bool has_swap_max = false;     // memory.swap.max: CONFIG_MEMCG_SWAP
  bool has_oom_group = false;    // memory.oom.group: 4.19+
  bool has_kill = false;         // cgroup.kill: 5.14+
  bool has_pids_peak = false;    // pids.peak: 6.1+ (older: sample() keeps the peak)
  bool has_memory_peak = false;  // memory.peak: 5.19+

  V2State() = default;
  V2State(const V2State&) = delete;
  V2State& operator=(const V2State&) = delete;

  ~V2State() {
    if (!sv_fd) return;
    sv_fd.reset();
    if (int err = remove_dir_retrying(*ops, subtree_fd.get(), sv_name.c_str())) {
      spdlog::warn("cgroup: cannot remove {}: {}", cellblock::quoted(sv_path), std::strerror(err));
      return;
    }
    // Only a subtree we made, and only when empty: not while another supervisor or this
    // process's own leaf is in it (EBUSY), never one an administrator made.
    if (created_subtree) remove_subtree_if_empty(*ops, base_path, subtree_name, subtree_fd.get());
  }
};

// Waits until cgroup.events says "populated 0". The kernel signals a change of the file to
// poll() as POLLPRI, so this sleeps until the last task has exited; it still re-reads every
// 100 ms in case a notification raced with the read.
bool wait_unpopulated(const PolledFile& events, steady_clock::time_point deadline) {
  char buf[128];
  while (true) {
    if (find_key_u64(events.read(buf, sizeof buf), "populated").value_or(0) == 0) return true;
    auto now = steady_clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{events.fd(), POLLPRI, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left, 1, 100)));
  }
}

// kill_listed_tasks() on the cgroup and every cgroup below it.
void kill_listed_tasks_below(const CgroupRef& cg) {
  kill_listed_tasks(cg);
  UniqueFd dir(::openat(cg.parent_fd, cg.rel.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return;  // gone meanwhile
  for (const auto& child : list_subdirs(dir.get(), cg.shown())) {
    kill_listed_tasks_below(CgroupRef{cg.parent_fd, cg.rel + "/" + child, cg.parent_shown});
  }
}

// Kills every task in the cgroup and its descendants and waits until they are gone.
// `events` is the cgroup's cgroup.events, open.
void kill_v2(const CgroupFsOps& ops, const CgroupRef& cg, bool has_kill, const PolledFile& events) {
  char buf[128];
  if (find_key_u64(events.read(buf, sizeof buf), "populated").value_or(0) == 0) return;
  const auto deadline = steady_clock::now() + kKillTimeout;
  if (has_kill) {
    // The kernel kills every task in the subtree, including ones forking meanwhile (5.14+).
    std::string kill_file = cg.file("cgroup.kill");
    write_file_at(cg.parent_fd, kill_file.c_str(), "1", cg.parent_shown, ops);
    if (wait_unpopulated(events, deadline)) return;
  } else {
    // Before 5.14, without cgroup.kill: kill what is listed, here and in every cgroup below
    // (cgroup.procs lists one cgroup only), until nothing is left.
    while (steady_clock::now() < deadline) {
      kill_listed_tasks_below(cg);
      if (wait_unpopulated(
              events, std::min(deadline, steady_clock::now() + std::chrono::milliseconds(20)))) {
        return;
      }
    }
  }
  throw SysError(ETIMEDOUT, "kill every task in " + cellblock::quoted(cg.shown()) +
                                ": still populated after " + std::to_string(kKillTimeout.count()) +
                                " ms");
}

// Removes <parent>/<rel> and every cgroup below it, killing their tasks first.
void remove_v2_tree(const V2State& s, const CgroupRef& cg, std::vector<std::string>* removed) {
  {
    UniqueFd dir(::openat(cg.parent_fd, cg.rel.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
      if (errno == ENOENT) return;
      throw_sys("open(" + cellblock::quoted(cg.shown()) + ", O_DIRECTORY)");
    }
    for (const auto& child : list_subdirs(dir.get(), cg.shown())) {
      remove_v2_tree(s, CgroupRef{cg.parent_fd, cg.rel + "/" + child, cg.parent_shown}, removed);
    }
  }
  {
    std::string rel = cg.file("cgroup.events");
    int fd = ::openat(cg.parent_fd, rel.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw_sys("open(" + cellblock::quoted(join_path(cg.parent_shown, rel)) + ", O_RDONLY)");
    PolledFile events(UniqueFd(fd), join_path(cg.parent_shown, rel));
    kill_v2(*s.ops, cg, s.has_kill, events);
  }
  if (int err = remove_dir_retrying(*s.ops, cg.parent_fd, cg.rel.c_str())) {
    throw SysError(err, "rmdir(" + cellblock::quoted(cg.shown()) + ")");
  }
  if (removed) removed->push_back(cg.shown());
}

class V2Job final : public JobCgroup {
 public:
  V2Job(std::shared_ptr<V2State> st, std::string dir) : st_(std::move(st)), dir_(std::move(dir)) {
    const V2State& s = *st_;
    path_ = join_path(s.sv_path, dir_);
    if (s.ops->make_dir(s.sv_fd.get(), dir_.c_str()) != 0) {
      throw_sys("mkdir(" + cellblock::quoted(path_) + ")");
    }
    int fd = ::openat(s.sv_fd.get(), dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      s.ops->remove_dir(s.sv_fd.get(), dir_.c_str());
      throw SysError(err, "open(" + cellblock::quoted(path_) + ", O_DIRECTORY)");
    }
    dir_fd_.reset(fd);
  }

  ~V2Job() override { remove_logging_errors(*this, path_); }

  void apply(const CgroupLimits& limits) {
    const V2State& s = *st_;
    if (limits.memory_bytes) {
      write("memory.max", to_dec(limits.memory_bytes));
      // No swap on top of the limit (the default is "max": as much swap as there is).
      if (s.has_swap_max) write("memory.swap.max", "0");
    }
    // An OOM kill takes the whole job, not one task of it: a half-killed job is a wrong verdict.
    if (s.has_oom_group) write("memory.oom.group", "1");
    if (limits.cpus) {
      auto [quota, period] = cpu_quota_us(*limits.cpus);
      write("cpu.max", to_dec(quota) + " " + to_dec(period));
    }
    if (limits.pids) write("pids.max", to_dec(limits.pids));
    if (!limits.io.empty() && !s.has_io) {
      throw std::runtime_error("io limit for " + cellblock::quoted(path_) +
                               ": the io controller is not available in this cgroup");
    }
    for (const auto& d : limits.io) {
      std::string line = std::to_string(d.major) + ":" + std::to_string(d.minor);
      if (d.read_bps) line += " rbps=" + to_dec(d.read_bps);
      if (d.write_bps) line += " wbps=" + to_dec(d.write_bps);
      if (d.read_iops) line += " riops=" + to_dec(d.read_iops);
      if (d.write_iops) line += " wiops=" + to_dec(d.write_iops);
      write("io.max", line);
    }
  }

  int clone_into_fd() const override { return dir_fd_.get(); }

  std::vector<int> join_fds() override { return {}; }
  void joined() override {}

  void add_process(pid_t pid) override {
    write("cgroup.procs", to_dec(static_cast<uint64_t>(pid)));
  }

  uint64_t cpu_usage_ns() override {
    if (!cpu_stat_.is_open()) cpu_stat_ = open_polled("cpu.stat");
    char buf[512];
    auto usec = find_key_u64(cpu_stat_.read(buf, sizeof buf), "usage_usec");
    if (!usec)
      throw std::runtime_error(cellblock::quoted(join_path(path_, "cpu.stat")) + ": no usage_usec");
    return *usec * 1000;
  }

  uint64_t oom_kills() override {
    return find_key_u64(read("memory.events"), "oom_kill").value_or(0);
  }

  bool needs_sampling() const override { return !st_->has_pids_peak; }

  void sample() override {
    if (st_->has_pids_peak) return;
    pids_peak_ = std::max(pids_peak_, read_u64_at(dir_fd_.get(), "pids.current", path_));
  }

  CgroupStats stats() override {
    const V2State& s = *st_;
    CgroupStats out;
    std::string cpu = read("cpu.stat");
    out.cpu_usage_ns = find_key_u64(cpu, "usage_usec").value_or(0) * 1000;
    out.cpu_user_ns = find_key_u64(cpu, "user_usec").value_or(0) * 1000;
    out.cpu_system_ns = find_key_u64(cpu, "system_usec").value_or(0) * 1000;
    if (s.has_memory_peak) out.memory_peak_bytes = read_u64_at(dir_fd_.get(), "memory.peak", path_);
    out.oom_kills = oom_kills();
    if (s.has_pids_peak) {
      out.pids_peak = read_u64_at(dir_fd_.get(), "pids.peak", path_);
    } else {
      sample();
      out.pids_peak = pids_peak_;
    }
    if (s.has_io) {
      std::string io = read("io.stat");
      out.io_read_bytes = sum_nested_key(io, "rbytes");
      out.io_write_bytes = sum_nested_key(io, "wbytes");
    }
    return out;
  }

  void kill_all() override {
    if (removed_) return;
    if (!events_.is_open()) events_ = open_polled("cgroup.events");
    kill_v2(*st_->ops, ref(), st_->has_kill, events_);
  }

  void remove() override {
    if (removed_) return;
    kill_all();
    cpu_stat_ = PolledFile();
    events_ = PolledFile();
    dir_fd_.reset();
    const V2State& s = *st_;
    if (s.ops->remove_dir(s.sv_fd.get(), dir_.c_str()) != 0 && errno != ENOENT) {
      int err = errno;
      if (err != EBUSY) throw SysError(err, "rmdir(" + cellblock::quoted(path_) + ")");
      // EBUSY: tasks still leaving, or cgroups the job made below its own (a job with a
      // cgroup namespace and write access to it). remove_v2_tree handles both.
      remove_v2_tree(s, ref(), nullptr);
    }
    removed_ = true;
  }

  std::vector<std::filesystem::path> paths() const override { return {path_}; }

 private:
  CgroupRef ref() const { return {st_->sv_fd.get(), dir_, st_->sv_path}; }
  void write(const char* file, std::string_view value) {
    write_file_at(dir_fd_.get(), file, value, path_, *st_->ops);
  }
  std::string read(const char* file) { return *read_file_at(dir_fd_.get(), file, path_); }
  PolledFile open_polled(const char* file) {
    int fd = ::openat(dir_fd_.get(), file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_sys("open(" + cellblock::quoted(join_path(path_, file)) + ", O_RDONLY)");
    return PolledFile(UniqueFd(fd), join_path(path_, file));
  }

  std::shared_ptr<V2State> st_;
  std::string dir_;   // "job-<name>"
  std::string path_;  // sv_path/dir_
  UniqueFd dir_fd_;   // for clone3(CLONE_INTO_CGROUP) and every file of the job
  PolledFile cpu_stat_;
  PolledFile events_;  // cgroup.events, opened by the first kill_all()
  uint64_t pids_peak_ = 0;
  bool removed_ = false;
};

class V2Driver final : public CgroupDriver {
 public:
  explicit V2Driver(std::shared_ptr<V2State> st) : CgroupDriver(CgroupMode::v2), st_(std::move(st)) {}

  std::vector<std::filesystem::path> supervisor_dirs() const override { return {st_->sv_path}; }

  std::optional<uint64_t> memory_limit() const override { return read_memory_limit(st_->base_path, "memory.max"); }

  std::vector<std::string> remove_leftovers() override {
    const V2State& s = *st_;
    std::vector<std::string> removed;
    for (const auto& name : list_subdirs(s.subtree_fd.get(), s.subtree_path)) {
      if (name == s.sv_name) continue;
      auto id = parse_supervisor_dir_name(name);
      if (!id || !supervisor_is_gone(id->first, id->second)) continue;
      try {
        remove_v2_tree(s, CgroupRef{s.subtree_fd.get(), name, s.subtree_path}, &removed);
      } catch (const std::exception& e) {
        // One stuck leftover must not keep the others: log it, the next start tries again.
        spdlog::error("cgroup: removing leftover {}: {}",
                      cellblock::quoted(join_path(s.subtree_path, name)), e.what());
      }
    }
    return removed;
  }

 private:
  std::unique_ptr<JobCgroup> create_job(std::string dir, const CgroupLimits& limits) override {
    auto job = std::make_unique<V2Job>(st_, std::move(dir));
    job->apply(limits);  // on failure ~V2Job removes the directory
    return job;
  }

  std::shared_ptr<V2State> st_;
};

// Enables `wanted` controllers in dirfd's cgroup.subtree_control, writing only the missing ones.
// Returns 0 or the errno of the write.
int enable_controllers(const CgroupFsOps& ops, int dirfd, std::string_view shown,
                       const std::vector<std::string>& wanted) {
  auto enabled = split_words(*read_file_at(dirfd, "cgroup.subtree_control", shown));
  std::string add;
  for (const auto& c : wanted) {
    if (contains(enabled, c)) continue;
    if (!add.empty()) add += ' ';
    add += "+" + c;
  }
  if (add.empty()) return 0;
  return try_write_file_at(dirfd, "cgroup.subtree_control", add, ops);
}

std::string controllers_text(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& c : v) out += (out.empty() ? "+" : " +") + c;
  return out;
}

}  // namespace

namespace {

// Enables the controllers down to this process's sv- directory, making what is missing (and
// moving the process into a leaf if it must), and probes the directory.
std::unique_ptr<V2State> make_v2_state(const CgroupLayout& layout, const CgroupConfig& config) {
  const CgroupHierarchy& h = layout.hierarchies.front();
  auto st = std::make_unique<V2State>();
  if (config.fs_ops) {
    st->ops_owner = config.fs_ops;
    st->ops = config.fs_ops.get();
  }
  const CgroupFsOps& ops = *st->ops;

  // The base C: where the supervisor was put, or, if it already moved itself into
  // C/<subtree>/supervisor, C.
  bool in_leaf = false;
  const std::string base = v2_base(h.base, config.subtree, &in_leaf);
  UniqueFd base_fd = open_dir(base);

  auto available = split_words(*read_file_at(base_fd.get(), "cgroup.controllers", base));
  std::vector<std::string> wanted;
  for (const char* c : {"memory", "cpu", "pids"}) {
    if (!contains(available, c)) {
      throw std::runtime_error(
          "cgroup v2: the " + std::string(c) + " controller is not available in " +
          cellblock::quoted(base) + " (cgroup.controllers: " +
          cellblock::quoted(*read_file_at(base_fd.get(), "cgroup.controllers", base)) +
          "); its parent must enable it for this cgroup (systemd: Delegate=yes)");
    }
    wanted.emplace_back(c);
  }
  st->has_io = contains(available, "io");
  if (st->has_io) wanted.emplace_back("io");

  // 1. Controllers in C. EBUSY means C holds processes: move this one into the leaf, if it is
  //    alone there.
  int err = enable_controllers(ops, base_fd.get(), base, wanted);
  if (err == EBUSY && !in_leaf) {
    auto pids = parse_pids(*read_file_at(base_fd.get(), "cgroup.procs", base));
    pid_t self = ::getpid();
    std::erase(pids, self);
    if (!pids.empty()) {
      throw std::runtime_error(
          "cgroup v2: cannot enable " + controllers_text(wanted) + " for children of " +
          cellblock::quoted(base) + ": it holds " + std::to_string(pids.size()) +
          " other process(es) (e.g. pid " + std::to_string(pids.front()) +
          "), and a cgroup with processes cannot have controllers enabled for its children. Run "
          "cellblock in a cgroup of its own (systemd: Delegate=yes, e.g. systemd-run -p "
          "Delegate=yes ...), or in the root cgroup");
    }
    if (ops.make_dir(base_fd.get(), config.subtree.c_str()) != 0 && errno != EEXIST) {
      throw_sys("mkdir(" + cellblock::quoted(join_path(base, config.subtree)) + ")");
    }
    std::string leaf = config.subtree + "/supervisor";
    if (ops.make_dir(base_fd.get(), leaf.c_str()) != 0 && errno != EEXIST) {
      throw_sys("mkdir(" + cellblock::quoted(join_path(base, leaf)) + ")");
    }
    // Writing the pid to cgroup.procs moves every thread of this process.
    write_file_at(base_fd.get(), (leaf + "/cgroup.procs").c_str(),
                  to_dec(static_cast<uint64_t>(self)), base, ops);
    spdlog::info("cgroup: moved the supervisor (pid {}) into {} to enable controllers in {}", self,
                 cellblock::quoted(join_path(base, leaf)), cellblock::quoted(base));
    err = enable_controllers(ops, base_fd.get(), base, wanted);
  }
  if (err) {
    throw SysError(err, "write(" + cellblock::quoted(join_path(base, "cgroup.subtree_control")) +
                            ", " + cellblock::quoted(controllers_text(wanted)) + ")");
  }

  // 2. C/<subtree>, shared by the supervisors below C, and 3. this supervisor's sv- directory.
  //    A supervisor that made the subtree removes it at exit if it is empty, so it may vanish
  //    between our mkdir and our sv- mkdir (ENOENT): make it again then. EEXIST for the sv-
  //    directory: the name is this process's own (pid and start time), so it is ours.
  st->subtree_path = join_path(base, config.subtree);
  st->sv_name = own_supervisor_dir_name();
  st->base_path = base;
  st->subtree_name = config.subtree;
  for (int attempt = 0;; ++attempt) {
    st->created_subtree = ops.make_dir(base_fd.get(), config.subtree.c_str()) == 0;
    if (!st->created_subtree && errno != EEXIST) {
      throw_sys("mkdir(" + cellblock::quoted(st->subtree_path) + ")");
    }
    st->subtree_fd = open_dir_at(base_fd.get(), config.subtree.c_str(), base);
    if (int e = enable_controllers(ops, st->subtree_fd.get(), st->subtree_path, wanted)) {
      throw SysError(
          e, "write(" + cellblock::quoted(join_path(st->subtree_path, "cgroup.subtree_control")) +
                 ", " + cellblock::quoted(controllers_text(wanted)) + ")");
    }
    if (ops.make_dir(st->subtree_fd.get(), st->sv_name.c_str()) == 0 || errno == EEXIST) break;
    if (errno != ENOENT || attempt == 3) {
      throw_sys("mkdir(" + cellblock::quoted(join_path(st->subtree_path, st->sv_name)) + ")");
    }
  }
  st->sv_path = join_path(st->subtree_path, st->sv_name);
  st->sv_fd = open_dir_at(st->subtree_fd.get(), st->sv_name.c_str(), st->subtree_path);
  if (int e = enable_controllers(ops, st->sv_fd.get(), st->sv_path, wanted)) {
    throw SysError(e, "write(" +
                          cellblock::quoted(join_path(st->sv_path, "cgroup.subtree_control")) +
                          ", " + cellblock::quoted(controllers_text(wanted)) + ")");
  }

  int sv = st->sv_fd.get();
  st->has_swap_max = exists_at(sv, "memory.swap.max");
  st->has_oom_group = exists_at(sv, "memory.oom.group");
  st->has_kill = exists_at(sv, "cgroup.kill");
  st->has_pids_peak = exists_at(sv, "pids.peak");
  st->has_memory_peak = exists_at(sv, "memory.peak");
  return st;
}

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(const CgroupLayout& layout,
                                                    const CgroupConfig& config) {
  if (config.subtree.empty() || config.subtree.find('/') != std::string::npos ||
      config.subtree == "." || config.subtree == ".." || config.subtree == "supervisor") {
    throw std::invalid_argument("cgroup subtree " + cellblock::quoted(config.subtree) +
                                ": must be one path component");
  }
  if (layout.hierarchies.size() != 1) throw std::logic_error("cgroup v2 layout: one hierarchy");
  // The sv- directory is the process's: every driver of this process on the same hierarchy
  // shares it (process_wide.h). A second driver after the first moved the process into
  // C/<subtree>/supervisor sees that leaf as its base and keys it as C, like the first.
  std::shared_ptr<V2State> st = ProcessWide<V2State>::instance().get(
      driver_state_key(layout, config), [&] { return make_v2_state(layout, config); });
  return std::make_unique<V2Driver>(std::move(st));
}

}  // namespace cellblock
