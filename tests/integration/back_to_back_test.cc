// Nothing crosses from one job to the next through one queue slot (issue 15, "Tests and proof").
// Two jobs go through a JobQueue with parallel 1 on the suite's Executor, as `cellblock batch
// --parallel 1` runs them: job A plants what a job could leave behind, and job B, the very next
// job through the same slot, looks for it. For each item of issue 15's list A proves that it
// planted the thing (it prints what it sees of it from inside) and B must find none of it:
//   - files in /tmp, /dev/shm and the rootfs's writable layer (/from-a at the root);
//   - SysV IPC objects (shm, msg, sem: made with the host's ipcmk, bound read-only with /usr);
//   - an abstract unix socket and a loopback TCP listener (busybox nc: on :: for v4 and v6) left
//     running in the background;
//   - processes left running (a setsid daemon and 20 sleeps): B's ps shows only its own, and the
//     host, looking while B runs, sees neither A's processes nor A's cgroup;
//   - cgroup counters: B's memory peak, CPU time and pids peak start at zero, not at A's;
//   - fds: A opens five more, B starts with 0, 1 and 2;
//   - the environment: B's is exactly its job's, without A's job variables or A's exports;
//   - rlimits: A lowers RLIMIT_NOFILE and RLIMIT_STACK; B has its job's configured values.
#include <filesystem>
#include <memory>
#include <mutex>

#include <gmock/gmock.h>

#include "tests/file_util.h"
#include "tests/integration/batch_test_util.h"
#include "tests/integration/queue_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kBurnCpuMs = 500;
constexpr uint64_t kBurnMemoryMiB = 64;

// Looks at the host once the job has printed `cue`, while the job still runs: the job cgroups of
// the executor and the host processes whose command line carries `marker`. Then it creates `go`
// (if set), which the job waits for, so that the look happens before the job ends.
class HostLook : public OutputListener {
 public:
  HostLook(std::string cue, std::string marker, std::string go = "")
      : cue_(std::move(cue)), marker_(std::move(marker)), go_(std::move(go)) {}

  void on_output(OutputStream, std::string_view chunk) noexcept override {
    std::lock_guard lock(mutex_);
    seen_ += chunk;
    if (looked_ || seen_.find(cue_) == std::string::npos) return;
    looked_ = true;
    try {
      cgroups_ = job_cgroups();
      processes_ = host_processes_with(marker_);
      if (!go_.empty()) cellblock::testing::spit(go_, "go\n");
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  bool looked() const { std::lock_guard lock(mutex_); return looked_ && error_.empty(); }
  std::vector<std::string> cgroups() const { std::lock_guard lock(mutex_); return cgroups_; }
  std::vector<int> processes() const { std::lock_guard lock(mutex_); return processes_; }
  std::string error() const { std::lock_guard lock(mutex_); return error_; }

 private:
  const std::string cue_, marker_, go_;
  mutable std::mutex mutex_;
  std::string seen_, error_;
  bool looked_ = false;
  std::vector<std::string> cgroups_;
  std::vector<int> processes_;
};

// Job A: plants everything, prints what it sees of it, says "planted" and waits for the host's
// look (the file /hs/go) before it exits, leaving its background processes to the cell's end.
JobSpec planter(const std::string& marker, const std::string& scratch_dir) {
  JobSpec a = with_programs(sh(R"sh(set -e
echo planted > /tmp/from-a
echo planted > /from-a
echo planted > /dev/shm/from-a
/usr/bin/ipcmk -M 4096 >/dev/null; /usr/bin/ipcmk -Q >/dev/null; /usr/bin/ipcmk -S 1 >/dev/null
/usr/bin/python3 -c 'import socket, time
s = socket.socket(socket.AF_UNIX); s.bind(b"\0from-a"); s.listen(1); time.sleep(1000)' </dev/null >/dev/null 2>&1 &
nc -l -p 5555 </dev/null >/dev/null 2>&1 &
setsid sh -c 'sleep 1000; : )sh" + marker + R"sh(' </dev/null >/dev/null 2>&1 &
for i in $(seq 20); do sleep 1000 & done
exec 5</etc/passwd 6</etc/group 7</etc/hosts 8>>/tmp/from-a 9>>/dev/shm/from-a
export A_EXPORTED=from-a
ulimit -n 64
ulimit -s 1024
/t/burn cpu )sh" + std::to_string(kBurnCpuMs) + R"sh( >/dev/null
/t/burn memory )sh" + std::to_string(kBurnMemoryMiB) + R"sh( >/dev/null
until grep -q '@from-a' /proc/net/unix && cat /proc/net/tcp /proc/net/tcp6 | grep -q ':15B3 0*:0000 0A' &&
  [ "$(ps -o comm | grep -c '^sleep$')" = 21 ]; do sleep 0.05; done
echo "files=$(ls /from-a /tmp/from-a /dev/shm/from-a | tr '\n' ' ')"
for t in shm msg sem; do echo "sysv-$t=$(tail -n +2 /proc/sysvipc/$t | wc -l)"; done
echo "unix=$(grep -c '@from-a' /proc/net/unix) tcp-listen=$(cat /proc/net/tcp /proc/net/tcp6 | grep -c ':15B3 0*:0000 0A')"
echo "sleeps=$(ps -o comm | grep -c '^sleep$')"
echo "fds=$(ls /proc/$$/fd | tr '\n' ' ')"
echo "env=$A_JOB $A_EXPORTED"
echo "nofile=$(ulimit -n) stack=$(ulimit -s)"
echo planted
until [ -e /hs/go ]; do sleep 0.05; done
)sh"));
  a.id = "a-plants";
  a.env["A_JOB"] = "from-a-job";
  // The host's /usr for ipcmk and python3 (and its C library at /lib, /lib64).
  a.mounts.push_back({"/usr", "/usr", true});
  a.mounts.push_back({"/usr/lib", "/lib", true});
  if (std::filesystem::exists("/usr/lib64")) a.mounts.push_back({"/usr/lib64", "/lib64", true});
  a.mounts.push_back({scratch_dir, "/hs", true});
  a.limits.wall_time_ms = 120'000;  // only a guard: A ends once the host has looked
  return a;
}

// Job B: looks for all of it. Its lines up to "ps:" are compared whole; `ps` comes last.
JobSpec looker() {
  JobSpec b = sh(R"sh(echo looking
echo "tmp=[$(ls -A /tmp)] shm=[$(ls -A /dev/shm)]"
echo "root=$(ls -A / | tr '\n' ' ')"
for t in shm msg sem; do echo "sysv-$t=$(tail -n +2 /proc/sysvipc/$t | wc -l)"; done
echo "unix=$(tail -n +2 /proc/net/unix | wc -l) tcp=$(tail -n +2 /proc/net/tcp | wc -l) tcp6=$(tail -n +2 /proc/net/tcp6 | wc -l)"
echo fds:
ls /proc/$$/fd
echo "env=$(tr '\0' ' ' < /proc/$$/environ)"
echo "nofile=$(ulimit -n) stack=$(ulimit -s)"
grep -E '^Max (open files|stack size)' /proc/$$/limits | tr -s ' '
echo ps:
ps -o pid,args
)sh");
  b.id = "b-looks";
  b.env["B_JOB"] = "b";
  return b;
}

// The job directories ("job-<n>") among cgroup paths: one per job, in every hierarchy.
std::set<std::string> jobs_of(const std::vector<std::string>& cgroups) {
  std::set<std::string> jobs;
  for (const auto& c : cgroups) jobs.insert(std::filesystem::path(c).filename());
  return jobs;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += n + " ";
  return out;
}

TEST(BackToBack, NothingCrossesFromOneJobToTheNextThroughOneQueueSlot) {
  quiet_logs();
  Scratch scratch("back-to-back");
  const std::string marker = unique_marker("back-to-back");
  std::filesystem::create_directories(scratch.path("hs"));
  JobSpec a = planter(marker, scratch.path("hs"));
  JobSpec b = looker();
  for (JobSpec* j : {&a, &b}) {  // the same configured rlimits for both: only A lowers its own
    j->limits.open_files = 256;
    j->limits.stack_bytes = 8 * kMiB;
  }
  run(sh("true"));  // the first job opens what the executor keeps for its lifetime
  ASSERT_TRUE(job_cgroups().empty());

  auto look_a = std::make_shared<HostLook>("planted\n", marker, scratch.path("hs/go"));
  auto look_b = std::make_shared<HostLook>("looking\n", marker);
  std::vector<std::string> started;
  Result ra, rb;
  {
    ExecutorRunner runner(executor());
    JobQueue queue(runner, {.parallel = 1, .memory_budget = 1ull << 30});
    auto submit = [&](const JobSpec& job, std::shared_ptr<HostLook> look, Result& result) {
      Submission s;
      s.job = job;
      s.output = std::move(look);
      s.on_started = [&started, id = job.id] { started.push_back(id); };  // on the queue's thread
      s.on_done = [&result](Result& r) { result = r; };
      queue.submit(std::move(s));
    };
    submit(a, look_a, ra);
    submit(b, look_b, rb);
    wait_idle_or_abort(queue, std::chrono::seconds(300));
  }
  ASSERT_EQ(started, (std::vector<std::string>{"a-plants", "b-looks"}));
  ASSERT_EQ(ra.status, Status::exited) << describe(ra);
  ASSERT_EQ(ra.exit_code, 0) << describe(ra);
  ASSERT_EQ(rb.status, Status::exited) << describe(rb);
  ASSERT_EQ(rb.exit_code, 0) << describe(rb);

  // A planted every item, and saw it from inside.
  EXPECT_EQ(ra.stdout_data,
            "files=/dev/shm/from-a /from-a /tmp/from-a \n"
            "sysv-shm=1\nsysv-msg=1\nsysv-sem=1\n"
            "unix=1 tcp-listen=1\n"
            "sleeps=21\n"
            "fds=0 1 2 3 5 6 7 8 9 \n"  // 3: the pipe the shell reads $(...) from
            "env=from-a-job from-a\n"
            "nofile=64 stack=1024\n"
            "planted\n")
      << describe(ra);
  // The host saw A's cell while A ran: its cgroup and its daemon.
  ASSERT_TRUE(look_a->looked()) << look_a->error();
  ASSERT_EQ(jobs_of(look_a->cgroups()).size(), 1u) << joined(look_a->cgroups());
  EXPECT_FALSE(look_a->processes().empty()) << "the host did not see A's daemon " << marker;

  // B found none of it.
  std::string rootfs_entries = joined(entries(kRootfs));
  const std::string b_out = rb.stdout_data;
  const size_t ps_at = b_out.find("ps:\n");
  ASSERT_NE(ps_at, std::string::npos) << describe(rb);
  EXPECT_EQ(b_out.substr(0, ps_at),
            "looking\n"
            "tmp=[] shm=[]\n"
            "root=" + rootfs_entries + "\n"
            "sysv-shm=0\nsysv-msg=0\nsysv-sem=0\n"
            "unix=0 tcp=0 tcp6=0\n"
            "fds:\n0\n1\n2\n"
            "env=B_JOB=b PATH=/bin \n"
            "nofile=256 stack=8192\n"
            "Max stack size 8388608 8388608 bytes \n"
            "Max open files 256 256 files \n")
      << describe(rb);
  // B's processes: the init, its shell and ps; nothing of A's.
  const std::vector<std::string> ps = lines(b_out.substr(ps_at + 4));
  ASSERT_EQ(ps.size(), 4u) << b_out;
  EXPECT_THAT(ps[1], HasSubstr("1 cellblock-init"));
  EXPECT_THAT(ps[2], HasSubstr("2 /bin/sh"));
  EXPECT_THAT(ps[3], HasSubstr("ps"));
  // While B ran, the host had B's cgroup only, and no process of A.
  ASSERT_TRUE(look_b->looked()) << look_b->error();
  ASSERT_EQ(jobs_of(look_b->cgroups()).size(), 1u) << joined(look_b->cgroups());
  EXPECT_NE(jobs_of(look_b->cgroups()), jobs_of(look_a->cgroups())) << joined(look_b->cgroups());
  EXPECT_TRUE(look_b->processes().empty()) << "A's daemon " << marker << " outlived A";

  // B's cgroup counters start at zero: A's burned CPU, its memory and its processes are not in them.
  EXPECT_GE(ra.stats.cpu_time_ms, kBurnCpuMs) << describe(ra);
  EXPECT_GE(ra.stats.memory_peak_bytes, kBurnMemoryMiB * kMiB) << describe(ra);
  EXPECT_GE(ra.stats.pids_peak, 23u) << describe(ra);  // init, sh, daemon's sh and sleep, 20 sleeps...
  EXPECT_LT(rb.stats.cpu_time_ms, kBurnCpuMs) << describe(rb);
  EXPECT_LT(rb.stats.memory_peak_bytes, kBurnMemoryMiB * kMiB / 4) << describe(rb);
  EXPECT_LE(rb.stats.pids_peak, 8u) << describe(rb);

  // After both: nothing of either on the host.
  EXPECT_TRUE(host_processes_with(marker).empty());
  EXPECT_TRUE(job_cgroups().empty());
}

}  // namespace
}  // namespace cellblock::test
