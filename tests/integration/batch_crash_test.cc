// Crash safety end to end: `cellblock batch` killed with -9 in the middle of a batch, then a new
// cellblock cleans up what it left (executor/supervisor_state.h).
#include <gmock/gmock.h>

#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "tests/integration/batch_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

bool alive(pid_t pid, uint64_t start_time) {
  auto stat = read_proc_stat(pid);
  return stat && parse_stat_start_time(*stat) == start_time && parse_stat_state(*stat) != 'Z';
}

// `cleanup_subtree`: the cgroup subtree of the cellblock that cleans up; the same as the crashed
// one's (its cgroups go by remove_leftovers()) or another (they go by the paths in the state).
void crash_and_clean_up(const std::string& name, bool same_subtree) {
  Scratch s(name);
  const std::string marker = unique_marker(name);
  std::vector<nlohmann::json> jobs;
  for (int i = 1; i <= 5; ++i) jobs.push_back(sh_job("crash-" + std::to_string(i), "sleep 60; : " + marker));
  const std::string job_file = s.write_jobs("jobs.jsonl", jobs);
  const std::string mounts_before = read_file("/proc/self/mountinfo");

  // 1. A batch with three jobs running and two waiting, killed with -9.
  auto batch = start_batch(s, "crashed", {"-p", "3", "--defaults", s.defaults(), job_file});
  ASSERT_TRUE(eventually([&] {
    auto files = job_files_in(s.state_dir());
    return files.size() == 3 && std::all_of(files.begin(), files.end(), [](auto& f) { return f.cell_pid > 0; });
  })) << batch->err();
  ASSERT_TRUE(eventually([&] { return host_processes_with(marker).size() == 3; }));
  const pid_t supervisor = batch->pid();
  const uint64_t supervisor_start = *process_start_time(supervisor);
  const std::string sv = supervisor_dir_name(supervisor, supervisor_start);
  const std::vector<JobState> running = job_files_in(s.state_dir());
  batch->signal(SIGKILL);
  ASSERT_EQ(batch->wait(), 128 + SIGKILL);

  // 2. What is left: the cells died with their supervisor (PR_SET_PDEATHSIG); the state and
  //    the cgroups stay; nothing is mounted on the host.
  EXPECT_TRUE(eventually([&] { return host_processes_with(marker).empty(); }, 5s));
  EXPECT_TRUE(eventually([&] {
    return std::none_of(running.begin(), running.end(), [](auto& j) { return alive(j.cell_pid, j.cell_start_time); });
  }, 5s));
  EXPECT_THAT(entries(s.state_dir() + "/" + sv), ::testing::ElementsAre("cgroups", "job-0", "job-1", "job-2"));
  std::vector<std::string> left = cgroups_below(s.subtree());
  for (const JobState& j : running)
    for (const std::string& cg : j.cgroups) EXPECT_THAT(left, ::testing::Contains(cg));
  EXPECT_EQ(read_file("/proc/self/mountinfo"), mounts_before);

  // 3. A new cellblock (an empty batch) cleans up and says what it cleaned.
  const std::string empty = s.write("empty.jsonl", "");
  const std::string other_subtree = s.subtree() + "-next";
  auto next = start_batch(s, "next", {empty}, s.global_args({}, same_subtree ? "" : other_subtree));
  ASSERT_EQ(next->wait(), 0) << next->err();
  const std::string err = next->err();
  const std::string head = "cleaned up after a crashed supervisor (pid " + std::to_string(supervisor) + "): ";
  for (const JobState& j : running) {
    std::string line = head + "job \"" + j.job_id + "\" (cell pid " + std::to_string(j.cell_pid) + ") already gone, cgroup ";
    EXPECT_THAT(err, HasSubstr(line)) << err;
    for (const std::string& cg : j.cgroups) EXPECT_THAT(err, HasSubstr(cg));
  }
  EXPECT_THAT(err, HasSubstr("state " + s.state_dir() + "/" + sv + " removed"));
  EXPECT_THAT(err, HasSubstr("[warning]"));

  // 4. Nothing is left: no state, no cgroup of the crashed supervisor, no process, no mount.
  // The stage directory and the cache of compiled seccomp programs stay; nothing of a supervisor.
  EXPECT_THAT(entries(s.state_dir()), ::testing::IsSubsetOf({"seccomp", "stage"}));
  for (const std::string& cg : cgroups_below(s.subtree())) EXPECT_THAT(cg, ::testing::Not(HasSubstr(sv)));
  EXPECT_TRUE(host_processes_with(marker).empty());
  EXPECT_EQ(read_file("/proc/self/mountinfo"), mounts_before);
  if (!same_subtree) {
    EXPECT_TRUE(cgroups_below(other_subtree).empty());  // the next one removed its own
  }
}

TEST(BatchCrash, TheNextSupervisorCleansUpAfterAKilledOne) { crash_and_clean_up("crash", true); }

// The next supervisor runs with another cgroup subtree (or in another cgroup): its
// remove_leftovers() does not see the dead one's cgroups; the paths in the state files lead to them.
TEST(BatchCrash, CleansUpCgroupsOfAnotherLayoutFromTheStateFiles) { crash_and_clean_up("crash-layout", false); }

// A live supervisor's state and cgroups are never touched by another one starting.
TEST(BatchCrash, ALiveSupervisorIsLeftAlone) {
  Scratch s("crash-live");
  const std::string marker = unique_marker("live");
  const std::string job_file = s.write_jobs("jobs.jsonl", {sh_job("live-1", "sleep 60; : " + marker)});
  auto batch = start_batch(s, "live", {"--defaults", s.defaults(), "--grace", "0s", job_file});
  ASSERT_TRUE(eventually([&] { return job_files_in(s.state_dir()).size() == 1 && host_processes_with(marker).size() == 1; }));
  const std::vector<std::string> cgroups = cgroups_below(s.subtree());

  auto next = start_batch(s, "next", {s.write("empty.jsonl", "")});
  ASSERT_EQ(next->wait(), 0);
  EXPECT_THAT(next->err(), ::testing::Not(HasSubstr("cleaned up")));
  EXPECT_EQ(job_files_in(s.state_dir()).size(), 1u);
  EXPECT_EQ(host_processes_with(marker).size(), 1u);
  EXPECT_EQ(cgroups_below(s.subtree()), cgroups);

  batch->signal(SIGTERM);
  EXPECT_EQ(batch->wait(), 128 + SIGTERM);
  EXPECT_TRUE(host_processes_with(marker).empty());
}

}  // namespace
}  // namespace cellblock::test
