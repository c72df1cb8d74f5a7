// The v1 and v2 drivers on a fake cgroup tree in a temp dir (see fake_cgroup_fs.h): layout,
// the files limits land in, stats parsing, v2 delegation and leftover removal. No privilege.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "executor/base/sys_error.h"
#include "tests/unit/fake_cgroup_fs.h"
#include "tests/unit/paused_child.h"

namespace cellblock {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::slurp;
using testing::spit;
using ::testing::UnorderedElementsAre;

// A process that sleeps until the test ends: a live "other supervisor".
using Sleeper = cellblock::testing::PausedChild;

// A pid that named a process a moment ago and names none now.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

std::string self_pid() { return std::to_string(::getpid()); }

// ---- v1 ------------------------------------------------------------------------------------

class FakeV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    ops_ = std::make_shared<testing::FakeCgroupFs>();
    std::string mountinfo;
    int id = 30;
    for (const char* name : {"memory", "cpu", "cpuacct", "pids", "blkio", "freezer"}) {
      fs::path root = tmp_.path() / name;
      fs::create_directories(root);
      ops_->add_hierarchy(root, testing::FakeCgroupFs::Kind::v1);
      ++id;
      mountinfo += std::to_string(id) + " 1 0:" + std::to_string(id) + " / " + root.string() +
                   " rw,relatime - cgroup cgroup rw," + name + "\n";
    }
    // The supervisor's memory cgroup is not the root, as on the build host.
    base("memory") = tmp_.path() / "memory/process_api/abc";
    fs::create_directories(base("memory"));
    for (const char* name : {"cpu", "cpuacct", "pids", "blkio", "freezer"}) {
      base(name) = tmp_.path() / name;
    }
    for (const auto& [name, dir] : bases_) {
      spit(dir / "cgroup.procs", "");
      spit(dir / "tasks", "");
    }
    spit(base("memory") / "memory.limit_in_bytes", "9223372036854771712\n");
    spit(base("memory") / "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    spit(base("memory") / "memory.max_usage_in_bytes", "0\n");
    spit(base("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    spit(base("cpu") / "cpu.cfs_quota_us", "-1\n");
    spit(base("cpu") / "cpu.cfs_period_us", "100000\n");
    spit(base("cpuacct") / "cpuacct.usage", "0\n");
    spit(base("cpuacct") / "cpuacct.usage_user", "0\n");
    spit(base("cpuacct") / "cpuacct.usage_sys", "0\n");
    spit(base("cpuacct") / "cpuacct.stat", "user 0\nsystem 0\n");
    spit(base("pids") / "pids.max", "max\n");
    spit(base("pids") / "pids.current", "0\n");
    spit(base("pids") / "pids.peak", "0\n");
    for (const char* f :
         {"read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device"}) {
      spit(base("blkio") / (std::string("blkio.throttle.") + f), "");
    }
    spit(base("blkio") / "blkio.throttle.io_service_bytes_recursive", "Total 0\n");
    spit(base("freezer") / "freezer.state", "THAWED\n");

    spit(tmp_.path() / "mountinfo", mountinfo);
    spit(tmp_.path() / "cgroup",
         "8:pids:/\n7:blkio:/\n6:freezer:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n"
         "0::/\n");
    config_.mountinfo = tmp_.path() / "mountinfo";
    config_.self_cgroup = tmp_.path() / "cgroup";
    config_.fs_ops = ops_;
    config_.subtree = "cellblock";
  }

  fs::path& base(const std::string& name) { return bases_[name]; }
  fs::path sv(const std::string& name) {
    return base(name) / "cellblock" / own_supervisor_dir_name();
  }

  testing::TempDir tmp_;
  std::shared_ptr<testing::FakeCgroupFs> ops_;
  std::map<std::string, fs::path> bases_;
  CgroupConfig config_;
};

TEST_F(FakeV1, DetectsV1AndMakesTheSupervisorDirInEachHierarchy) {
  auto driver = make_cgroup_driver(config_);
  EXPECT_EQ(driver->mode(), CgroupMode::v1);
  EXPECT_EQ(driver->version(), 1);
  auto dirs = driver->supervisor_dirs();
  ASSERT_EQ(dirs.size(), 6u);
  EXPECT_EQ(dirs[0], sv("memory"));  // below the supervisor's own memory cgroup
  for (const auto& d : dirs) EXPECT_TRUE(fs::is_directory(d)) << d;
  driver.reset();
  // The sv- directories go with the driver, and so does the subtree it made.
  for (const auto& d : dirs) {
    EXPECT_FALSE(fs::exists(d)) << d;
    EXPECT_FALSE(fs::exists(d.parent_path())) << d.parent_path();
  }
}

TEST_F(FakeV1, ASubtreeItDidNotMakeStays) {
  for (const char* h : {"memory", "cpu", "cpuacct", "pids", "blkio", "freezer"}) {
    UniqueFd fd = open_dir(base(h));
    ASSERT_EQ(ops_->make_dir(fd.get(), "cellblock"), 0);  // an administrator's, say
  }
  auto driver = make_cgroup_driver(config_);
  auto dirs = driver->supervisor_dirs();
  driver.reset();
  for (const auto& d : dirs) {
    EXPECT_FALSE(fs::exists(d)) << d;
    EXPECT_TRUE(fs::is_directory(d.parent_path())) << d.parent_path();
  }
}

TEST_F(FakeV1, LimitsLandInTheV1Files) {
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;
  limits.memory_bytes = 64 << 20;
  limits.cpus = 0.5;
  limits.pids = 32;
  limits.io.push_back({254, 0, 1048576, 0, 0, 200});
  auto job = driver->create("a", limits);
  ASSERT_EQ(job->paths().size(), 6u);
  EXPECT_EQ(job->clone_into_fd(), -1);
  fs::path mem = sv("memory") / "job-a";
  EXPECT_EQ(job->paths()[0], mem);
  EXPECT_EQ(slurp(mem / "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(slurp(mem / "memory.memsw.limit_in_bytes"), "67108864");  // no swap on top
  EXPECT_EQ(slurp(sv("cpu") / "job-a/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(slurp(sv("cpu") / "job-a/cpu.cfs_period_us"), "100000\n");  // default, not written
  EXPECT_EQ(slurp(sv("pids") / "job-a/pids.max"), "32");
  EXPECT_EQ(slurp(sv("blkio") / "job-a/blkio.throttle.read_bps_device"), "254:0 1048576\n");
  EXPECT_EQ(slurp(sv("blkio") / "job-a/blkio.throttle.write_bps_device"), "");
  EXPECT_EQ(slurp(sv("blkio") / "job-a/blkio.throttle.write_iops_device"), "254:0 200\n");
  job->remove();
  for (const auto& p : job->paths()) EXPECT_FALSE(fs::exists(p)) << p;
  job->remove();  // idempotent
}

TEST_F(FakeV1, UnsetLimitsWriteNothingAndSkipTheCpuHierarchy) {
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;  // nothing set
  auto job = driver->create("b", limits);
  EXPECT_EQ(job->paths().size(), 5u);  // no cpu directory without a cpus limit
  EXPECT_FALSE(fs::exists(sv("cpu") / "job-b"));
  EXPECT_EQ(slurp(sv("memory") / "job-b/memory.limit_in_bytes"), "9223372036854771712\n");
  EXPECT_EQ(slurp(sv("pids") / "job-b/pids.max"), "max\n");
}

TEST_F(FakeV1, AddProcessWritesEveryHierarchy) {
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("c", {});
  Sleeper child;  // a real pid we own, should anything try to signal it
  job->add_process(child.pid());
  for (const auto& p : job->paths()) {
    EXPECT_EQ(slurp(p / "cgroup.procs"), std::to_string(child.pid()) + "\n") << p;
    spit(p / "cgroup.procs", "");  // the fake cannot make it exit; empty it for remove()
  }
}

TEST_F(FakeV1, JoinFdsAreTheTasksFiles) {
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("j", {});
  auto fds = job->join_fds();
  ASSERT_EQ(fds.size(), job->paths().size());
  EXPECT_EQ(job->join_fds(), fds);  // opened once
  for (size_t i = 0; i < fds.size(); ++i) {
    EXPECT_TRUE(::fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    EXPECT_EQ(fs::read_symlink("/proc/self/fd/" + std::to_string(fds[i])),
              job->paths()[i] / "tasks");
  }
}

TEST_F(FakeV1, StatsComeFromTheV1Files) {
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;
  auto job = driver->create("d", limits);
  fs::path acct = sv("cpuacct") / "job-d";
  spit(acct / "cpuacct.usage", "3000000000\n");
  spit(acct / "cpuacct.usage_user", "2000000000\n");
  spit(acct / "cpuacct.usage_sys", "1000000000\n");
  spit(sv("memory") / "job-d/memory.max_usage_in_bytes", "52428800\n");
  spit(sv("memory") / "job-d/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  spit(sv("pids") / "job-d/pids.peak", "17\n");
  spit(sv("blkio") / "job-d/blkio.throttle.io_service_bytes_recursive",
       "7:0 Read 4096\n7:0 Write 8192\n7:0 Total 12288\nTotal 12288\n");
  EXPECT_EQ(job->cpu_usage_ns(), 3000000000u);
  spit(acct / "cpuacct.usage", "3500000000\n");
  EXPECT_EQ(job->cpu_usage_ns(), 3500000000u);  // polled again through the open fd
  EXPECT_EQ(job->oom_kills(), 2u);
  CgroupStats s = job->stats();
  EXPECT_EQ(s.cpu_usage_ns, 3500000000u);
  // The tick-sampled 2:1 split applied to the exact total (see split_cpu_time).
  EXPECT_EQ(s.cpu_user_ns, 2333333333u);
  EXPECT_EQ(s.cpu_system_ns, 1166666667u);
  EXPECT_EQ(s.memory_peak_bytes, 52428800u);
  EXPECT_EQ(s.oom_kills, 2u);
  EXPECT_EQ(s.pids_peak, 17u);
  EXPECT_EQ(s.io_read_bytes, 4096u);
  EXPECT_EQ(s.io_write_bytes, 8192u);
}

TEST_F(FakeV1, OldKernelsUseTicksAndSampledPids) {
  // Without cpuacct.usage_user (before 4.7) and pids.peak (before 6.1).
  fs::remove(base("cpuacct") / "cpuacct.usage_user");
  fs::remove(base("cpuacct") / "cpuacct.usage_sys");
  fs::remove(base("pids") / "pids.peak");
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("e", {});
  long hz = ::sysconf(_SC_CLK_TCK);
  spit(sv("cpuacct") / "job-e/cpuacct.stat", "user " + std::to_string(hz) + "\nsystem 5\n");
  spit(sv("cpuacct") / "job-e/cpuacct.usage", "2000000000\n");
  spit(sv("pids") / "job-e/pids.current", "9\n");
  job->sample();
  spit(sv("pids") / "job-e/pids.current", "3\n");
  job->sample();
  CgroupStats s = job->stats();
  // hz ticks of user time and 5 of system time: the exact 2 s of cpuacct.usage in that ratio.
  EXPECT_EQ(s.cpu_user_ns, 2'000'000'000u * hz / (hz + 5));
  EXPECT_EQ(s.cpu_user_ns + s.cpu_system_ns, 2'000'000'000u);
  EXPECT_EQ(s.pids_peak, 9u);
}

TEST_F(FakeV1, FailedLimitLeavesNothingBehind) {
  fs::remove(base("pids") / "pids.max");  // the write will fail with ENOENT
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;
  limits.pids = 10;
  try {
    driver->create("f", limits);
    FAIL() << "no exception";
  } catch (const SysError& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_THAT(e.what(),
                HasSubstr("write(\"" + (sv("pids") / "job-f/pids.max").string() + "\", \"10\")"));
  }
  for (const char* h : {"memory", "cpuacct", "pids", "blkio", "freezer"}) {
    EXPECT_FALSE(fs::exists(sv(h) / "job-f")) << h;
  }
}

TEST_F(FakeV1, RejectsBadNamesDuplicatesAndLimits) {
  auto driver = make_cgroup_driver(config_);
  EXPECT_THROW(driver->create("a/b", {}), std::invalid_argument);
  auto job = driver->create("dup", {});
  try {
    driver->create("dup", {});
    FAIL() << "no exception";
  } catch (const SysError& e) {
    EXPECT_EQ(e.err(), EEXIST);
  }
  EXPECT_TRUE(fs::exists(sv("memory") / "job-dup"));  // the first one is untouched
  CgroupLimits limits;
  limits.cpus = 0;
  EXPECT_THROW(driver->create("g", limits), std::invalid_argument);
}

TEST_F(FakeV1, IoLimitWithoutBlkioIsAnError) {
  spit(tmp_.path() / "cgroup", "8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n0::/\n");
  std::string mounts = slurp(tmp_.path() / "mountinfo");
  std::string kept;
  std::istringstream in(mounts);
  for (std::string line; std::getline(in, line);) {
    if (line.find("rw,blkio") == std::string::npos) kept += line + "\n";
  }
  spit(tmp_.path() / "mountinfo", kept);
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;
  limits.io.push_back({254, 0, 1, 0, 0, 0});
  try {
    driver->create("h", limits);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("blkio controller is not mounted"));
  }
}

TEST_F(FakeV1, RemovesLeftoversOfGoneSupervisorsOnly) {
  auto driver = make_cgroup_driver(config_);
  Sleeper live;
  std::string live_name = supervisor_dir_name(live.pid(), *process_start_time(live.pid()));
  std::string dead_name = supervisor_dir_name(dead_pid(), 12345);
  // Our own pid with another start time: a previous process that had our pid.
  std::string reused_name = supervisor_dir_name(::getpid(), *process_start_time(::getpid()) + 1);
  for (const char* h : {"memory", "cpuacct", "pids", "blkio", "freezer"}) {
    fs::path subtree = base(h) / "cellblock";
    UniqueFd fd = open_dir(subtree);
    for (const auto& n :
         {live_name, dead_name, reused_name, std::string("sv-notanumber"), std::string("other")}) {
      ASSERT_EQ(ops_->make_dir(fd.get(), n.c_str()), 0) << n;
    }
    ASSERT_EQ(ops_->make_dir(fd.get(), (dead_name + "/job-1").c_str()), 0);
  }
  auto removed = driver->remove_leftovers();
  EXPECT_EQ(removed.size(), 15u);  // dead/job-1, dead, reused in 5 hierarchies
  EXPECT_THAT(removed,
              ::testing::Contains((base("memory") / "cellblock" / dead_name / "job-1").string()));
  for (const char* h : {"memory", "cpuacct", "pids", "blkio", "freezer"}) {
    fs::path subtree = base(h) / "cellblock";
    EXPECT_FALSE(fs::exists(subtree / dead_name)) << h;
    EXPECT_FALSE(fs::exists(subtree / reused_name)) << h;
    EXPECT_TRUE(fs::exists(subtree / live_name)) << h;
    EXPECT_TRUE(fs::exists(subtree / "sv-notanumber")) << h;
    EXPECT_TRUE(fs::exists(subtree / "other")) << h;
    EXPECT_TRUE(fs::exists(subtree / own_supervisor_dir_name())) << h;
  }
}

// ---- v2 ------------------------------------------------------------------------------------

class FakeV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    ops_ = std::make_shared<testing::FakeCgroupFs>();
    root_ = tmp_.path() / "cg";
    fs::create_directories(root_);
    ops_->add_hierarchy(root_, testing::FakeCgroupFs::Kind::v2);
    // The root's files, which the fake copies into every new cgroup.
    spit(root_ / "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    spit(root_ / "cgroup.subtree_control", "cpu io memory pids\n");
    spit(root_ / "cgroup.procs", "");
    spit(root_ / "cgroup.events", "populated 0\nfrozen 0\n");
    spit(root_ / "cgroup.kill", "");
    spit(root_ / "memory.max", "max\n");
    spit(root_ / "memory.swap.max", "max\n");
    spit(root_ / "memory.oom.group", "0\n");
    spit(root_ / "memory.peak", "0\n");
    spit(root_ / "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    spit(root_ / "cpu.max", "max 100000\n");
    spit(root_ / "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    spit(root_ / "pids.max", "max\n");
    spit(root_ / "pids.current", "0\n");
    spit(root_ / "pids.peak", "0\n");
    spit(root_ / "io.max", "");
    spit(root_ / "io.stat", "");
    spit(tmp_.path() / "mountinfo",
         "29 24 0:25 / " + root_.string() + " rw - cgroup2 cgroup2 rw,nsdelegate\n");
    config_.mountinfo = tmp_.path() / "mountinfo";
    config_.self_cgroup = tmp_.path() / "cgroup";
    config_.fs_ops = ops_;
    config_.subtree = "cellblock";
  }

  // A delegated cgroup C = <root>/<name> (systemd Delegate=yes) that holds `pids`.
  void delegate(const std::string& name, const std::vector<std::string>& pids) {
    UniqueFd fd = open_dir(root_);
    ASSERT_EQ(ops_->make_dir(fd.get(), name.c_str()), 0);
    for (const auto& pid : pids) {
      ASSERT_EQ(ops_->write_file(fd.get(), (name + "/cgroup.procs").c_str(), pid), 0);
    }
    spit(tmp_.path() / "cgroup", "0::/" + name + "\n");
  }

  fs::path sv(const fs::path& base) { return base / "cellblock" / own_supervisor_dir_name(); }

  testing::TempDir tmp_;
  fs::path root_;
  std::shared_ptr<testing::FakeCgroupFs> ops_;
  CgroupConfig config_;
};

TEST_F(FakeV2, InTheRootCgroupNothingMoves) {
  spit(tmp_.path() / "cgroup", "0::/\n");
  spit(root_ / "cgroup.subtree_control", "");  // e.g. a host without systemd
  spit(root_ / "cgroup.procs", self_pid() + "\n");
  auto driver = make_cgroup_driver(config_);
  EXPECT_EQ(driver->mode(), CgroupMode::v2);
  EXPECT_EQ(slurp(root_ / "cgroup.subtree_control"), "cpu io memory pids\n");
  EXPECT_EQ(slurp(root_ / "cgroup.procs"), self_pid() + "\n");  // the root is exempt
  EXPECT_FALSE(fs::exists(root_ / "cellblock/supervisor"));
  EXPECT_THAT(driver->supervisor_dirs(), ElementsAre(sv(root_)));
  EXPECT_EQ(slurp(root_ / "cellblock/cgroup.subtree_control"), "cpu io memory pids\n");
  EXPECT_EQ(slurp(sv(root_) / "cgroup.subtree_control"), "cpu io memory pids\n");
}

TEST_F(FakeV2, DelegatedCgroupMovesTheSupervisorIntoALeaf) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  fs::path c = root_ / "deleg";
  EXPECT_EQ(slurp(c / "cgroup.procs"), "");
  EXPECT_EQ(slurp(c / "cellblock/supervisor/cgroup.procs"), self_pid() + "\n");
  EXPECT_EQ(slurp(c / "cgroup.subtree_control"), "cpu io memory pids\n");
  EXPECT_EQ(slurp(c / "cellblock/cgroup.subtree_control"), "cpu io memory pids\n");
  EXPECT_EQ(slurp(sv(c) / "cgroup.subtree_control"), "cpu io memory pids\n");
  auto job = driver->create("a", {});
  EXPECT_THAT(job->paths(), ElementsAre(sv(c) / "job-a"));
  EXPECT_GE(job->clone_into_fd(), 0);
  job.reset();
  driver.reset();

  // The next driver of this process finds itself in the leaf and builds beside it.
  spit(tmp_.path() / "cgroup", "0::/deleg/cellblock/supervisor\n");
  auto second = make_cgroup_driver(config_);
  EXPECT_THAT(second->supervisor_dirs(), ElementsAre(sv(c)));
}

TEST_F(FakeV2, DelegatedCgroupWithOtherProcessesIsAnErrorThatSaysWhy) {
  delegate("shared", {self_pid(), "999999"});
  try {
    make_cgroup_driver(config_);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("1 other process(es)"));
    EXPECT_THAT(e.what(), HasSubstr("Delegate=yes"));
  }
  // Nothing was moved.
  EXPECT_EQ(slurp(root_ / "shared/cgroup.procs"), self_pid() + "\n999999\n");
  EXPECT_FALSE(fs::exists(root_ / "shared/cellblock/supervisor"));
}

TEST_F(FakeV2, MissingControllerIsNamed) {
  spit(root_ / "cgroup.subtree_control", "cpu io pids\n");  // no memory for children
  delegate("nomem", {self_pid()});
  try {
    make_cgroup_driver(config_);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the memory controller is not available"));
  }
}

TEST_F(FakeV2, LimitsLandInTheV2Files) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  CgroupLimits limits;
  limits.memory_bytes = 64 << 20;
  limits.cpus = 1.5;
  limits.pids = 32;
  limits.io.push_back({254, 0, 1048576, 0, 0, 200});
  limits.io.push_back({7, 0, 0, 4096, 0, 0});
  auto job = driver->create("lim", limits);
  fs::path j = job->paths()[0];
  EXPECT_EQ(slurp(j / "memory.max"), "67108864");
  EXPECT_EQ(slurp(j / "memory.swap.max"), "0");
  EXPECT_EQ(slurp(j / "memory.oom.group"), "1");
  EXPECT_EQ(slurp(j / "cpu.max"), "150000 100000");
  EXPECT_EQ(slurp(j / "pids.max"), "32");
  EXPECT_EQ(slurp(j / "io.max"), "254:0 rbps=1048576 wiops=200\n7:0 wbps=4096\n");
  job.reset();
  EXPECT_FALSE(fs::exists(j));
}

TEST_F(FakeV2, UnsetLimitsWriteOnlyTheOomGroup) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("none", {});
  fs::path j = job->paths()[0];
  EXPECT_EQ(slurp(j / "memory.max"), "max\n");
  EXPECT_EQ(slurp(j / "memory.swap.max"), "max\n");
  EXPECT_EQ(slurp(j / "memory.oom.group"), "1");
  EXPECT_EQ(slurp(j / "cpu.max"), "max 100000\n");
}

TEST_F(FakeV2, StatsComeFromTheV2Files) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("st", {});
  fs::path j = job->paths()[0];
  spit(j / "cpu.stat", "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 0\n");
  spit(j / "memory.peak", "52428800\n");
  spit(j / "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 1\n");
  spit(j / "pids.peak", "12\n");
  spit(j / "io.stat", "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  EXPECT_EQ(job->cpu_usage_ns(), 3'000'000u);
  spit(j / "cpu.stat", "usage_usec 4000\nuser_usec 3000\nsystem_usec 1000\n");
  EXPECT_EQ(job->cpu_usage_ns(), 4'000'000u);
  CgroupStats s = job->stats();
  EXPECT_EQ(s.cpu_usage_ns, 4'000'000u);
  EXPECT_EQ(s.cpu_user_ns, 3'000'000u);
  EXPECT_EQ(s.cpu_system_ns, 1'000'000u);
  EXPECT_EQ(s.memory_peak_bytes, 52428800u);
  EXPECT_EQ(s.oom_kills, 1u);
  EXPECT_EQ(s.pids_peak, 12u);
  EXPECT_EQ(s.io_read_bytes, 4096u);
  EXPECT_EQ(s.io_write_bytes, 8192u);
}

TEST_F(FakeV2, AddProcessMovesThePid) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  auto job = driver->create("mv", {});
  Sleeper child;
  job->add_process(child.pid());
  EXPECT_EQ(slurp(job->paths()[0] / "cgroup.procs"), std::to_string(child.pid()) + "\n");
  spit(job->paths()[0] / "cgroup.procs", "");
}

TEST_F(FakeV2, RemovesLeftoversOfGoneSupervisorsOnly) {
  delegate("deleg", {self_pid()});
  auto driver = make_cgroup_driver(config_);
  fs::path subtree = root_ / "deleg/cellblock";
  Sleeper live;
  std::string live_name = supervisor_dir_name(live.pid(), *process_start_time(live.pid()));
  std::string dead_name = supervisor_dir_name(dead_pid(), 1);
  UniqueFd fd = open_dir(subtree);
  for (const auto& n : {live_name, dead_name, std::string("other")}) {
    ASSERT_EQ(ops_->make_dir(fd.get(), n.c_str()), 0);
  }
  ASSERT_EQ(ops_->make_dir(fd.get(), (dead_name + "/job-x").c_str()), 0);
  ASSERT_EQ(ops_->make_dir(fd.get(), (dead_name + "/job-x/nested").c_str()), 0);
  auto removed = driver->remove_leftovers();
  EXPECT_THAT(removed, ElementsAre((subtree / dead_name / "job-x/nested").string(),
                                   (subtree / dead_name / "job-x").string(),
                                   (subtree / dead_name).string()));
  EXPECT_TRUE(fs::exists(subtree / live_name));
  EXPECT_TRUE(fs::exists(subtree / "other"));
  EXPECT_TRUE(fs::exists(subtree / "supervisor"));
}

}  // namespace
}  // namespace cellblock
