// The supervisor's state directory and the cleanup after a crash, without privilege: the job
// files, and the cleanup's decisions on processes of our own (a surviving "cell" is killed only
// when its pid *and* start time match; a live supervisor's state is never touched). Cgroups come
// from a stub driver; the real ones are in tests/integration/batch_crash_test.cc.
#include "executor/crash_cleanup.h"
#include "executor/supervisor_state.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "tests/unit/fake_cgroup_fs.h"
#include "tests/unit/paused_child.h"

namespace cellblock {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Cell = CrashCleanup::Cell;

using Child = cellblock::testing::PausedChild;

pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Cgroups as a stub: remove_leftovers() returns what the test says.
class StubCgroups : public CgroupDriver {
 public:
  StubCgroups() : CgroupDriver(CgroupMode::v1) {}
  std::unique_ptr<JobCgroup> create_job(std::string, const CgroupLimits&) override {
    throw std::logic_error("not in this test");
  }
  std::vector<std::string> remove_leftovers() override {
    ++calls;
    return leftovers;
  }
  std::vector<fs::path> supervisor_dirs() const override { return {}; }
  std::optional<uint64_t> memory_limit() const override { return std::nullopt; }
  std::vector<std::string> leftovers;
  int calls = 0;
};

void write(const fs::path& p, const std::string& text) { testing::spit(p, text); }

TEST(JobStateFile, FormatsAndParses) {
  JobState s{"build\n1", 4242, 987654, {"/sys/fs/cgroup/memory/cb/sv-1-2/job-7", "/sys/fs/cgroup/pids/cb/sv-1-2/job-7"}};
  std::string text = format_job_state(s);
  EXPECT_EQ(text,
            "job_id build?1\ncell_pid 4242\ncell_start_time 987654\n"
            "cgroup /sys/fs/cgroup/memory/cb/sv-1-2/job-7\ncgroup /sys/fs/cgroup/pids/cb/sv-1-2/job-7\n");
  auto back = parse_job_state(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->job_id, "build?1");  // control characters do not survive: the id is for the log
  EXPECT_EQ(back->cell_pid, 4242);
  EXPECT_EQ(back->cell_start_time, 987654u);
  EXPECT_EQ(back->cgroups, s.cgroups);
}

TEST(JobStateFile, RejectsWhatIsNotAWholeJobFile) {
  EXPECT_EQ(parse_job_state(""), std::nullopt);
  EXPECT_EQ(parse_job_state("job_id x\ncell_pid 12"), std::nullopt);  // cut short
  EXPECT_EQ(parse_job_state("job_id x\ncell_pid twelve\n"), std::nullopt);
  EXPECT_EQ(parse_job_state("job_id x\ncell_pid 1\nsurprise 1\n"), std::nullopt);
  EXPECT_EQ(parse_job_state("job_id x\n"), std::nullopt);  // no pid line
  EXPECT_TRUE(parse_job_state("job_id \ncell_pid 0\ncell_start_time 0\n"));
}

TEST(SupervisorState, AZombieSupervisorIsGone) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  siginfo_t info;
  ASSERT_EQ(::waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);  // a zombie now, not reaped
  auto start = process_start_time(pid);
  ASSERT_TRUE(start);
  EXPECT_TRUE(supervisor_is_gone(pid, *start));
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE(supervisor_is_gone(pid, *start));

  Child live;
  EXPECT_FALSE(supervisor_is_gone(live.pid(), live.start_time()));
  EXPECT_EQ(parse_stat_state("12 (a) b) S 1 2"), 'S');
  EXPECT_EQ(parse_stat_state("12 (a) Z 1"), 'Z');
  EXPECT_EQ(parse_stat_state("garbage"), std::nullopt);
}

TEST(SupervisorState, AJobFileLivesFromCgroupToEnd) {
  testing::TempDir root;
  std::string dir;
  {
    SupervisorState state(root.path(), {"/cg/memory/x/sv-1-2", "/cg/pids/x/sv-1-2"});
    dir = state.dir();
    EXPECT_EQ(fs::path(dir).filename(), own_supervisor_dir_name());
    EXPECT_EQ(fs::status(dir).permissions(), fs::perms::owner_all);
    EXPECT_EQ(testing::slurp(dir + "/cgroups"), "cgroup /cg/memory/x/sv-1-2\ncgroup /cg/pids/x/sv-1-2\n");

    SupervisorState::JobFile f = state.job_starting("job-3", "my job", {"/cg/memory/sv-1-2/job-3"});
    auto before = parse_job_state(testing::slurp(dir + "/job-3"));
    ASSERT_TRUE(before);
    EXPECT_EQ(before->job_id, "my job");
    EXPECT_EQ(before->cell_pid, 0);
    EXPECT_THAT(before->cgroups, ElementsAre("/cg/memory/sv-1-2/job-3"));

    Child cell;
    f.cell_started(cell.pid());
    auto after = parse_job_state(testing::slurp(dir + "/job-3"));
    ASSERT_TRUE(after);
    EXPECT_EQ(after->cell_pid, cell.pid());
    EXPECT_EQ(after->cell_start_time, cell.start_time());
    EXPECT_EQ(after->cgroups, before->cgroups);

    f.remove();
    EXPECT_FALSE(fs::exists(dir + "/job-3"));
    f.remove();  // idempotent

    // Assigning over a job file removes it, as its destructor does.
    SupervisorState::JobFile other = state.job_starting("job-4", "other", {});
    other = state.job_starting("job-5", "next", {});
    EXPECT_FALSE(fs::exists(dir + "/job-4"));
    EXPECT_TRUE(fs::exists(dir + "/job-5"));
    other = SupervisorState::JobFile();
    EXPECT_FALSE(fs::exists(dir + "/job-5"));
    // Whatever is still in the directory at the end goes with it.
    write(dir + "/job-6", "stray");
  }
  EXPECT_FALSE(fs::exists(dir));
}

TEST(CrashCleanup, KillsSurvivingCellsByPidAndStartTimeOnly) {
  testing::TempDir root;
  Child survivor, unrelated;
  const pid_t dead = dead_pid();
  const std::string sv = supervisor_dir_name(dead, 777);
  fs::create_directory(root.path() / sv);
  write(root.path() / sv / "job-0", format_job_state({"survivor", survivor.pid(), survivor.start_time(), {}}));
  // The cell's pid, reused since by a process that started at another time: not ours to kill.
  write(root.path() / sv / "job-1", format_job_state({"reused", unrelated.pid(), unrelated.start_time() + 1, {}}));
  write(root.path() / sv / "job-2", format_job_state({"unborn", 0, 0, {}}));
  write(root.path() / sv / "job-3", "job_id half-writ");

  // A live supervisor (our child) and its job: untouched.
  Child live_supervisor;
  const std::string live_sv = supervisor_dir_name(live_supervisor.pid(), live_supervisor.start_time());
  fs::create_directory(root.path() / live_sv);
  write(root.path() / live_sv / "job-0", format_job_state({"theirs", unrelated.pid(), unrelated.start_time(), {}}));
  fs::create_directory(root.path() / "stage");

  StubCgroups cgroups;
  const std::string cg = "/sys/fs/cgroup/memory/cellblock/" + sv;
  const std::string other_sv = supervisor_dir_name(dead_pid(), 888);
  cgroups.leftovers = {cg + "/job-0", cg + "/job-9", cg, "/sys/fs/cgroup/memory/cellblock/" + other_sv};
  // The job's file names its cgroup; the stub says remove_leftovers() removed it.
  write(root.path() / sv / "job-0",
        format_job_state({"survivor", survivor.pid(), survivor.start_time(), {cg + "/job-0"}}));

  const pid_t survivor_pid = survivor.pid();
  std::vector<CrashCleanup> done = clean_up_after_crashes(root.path(), cgroups);
  EXPECT_EQ(cgroups.calls, 1);

  int status = survivor.reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(unrelated.alive());
  EXPECT_TRUE(fs::exists(root.path() / live_sv / "job-0"));
  EXPECT_TRUE(fs::exists(root.path() / "stage"));
  EXPECT_FALSE(fs::exists(root.path() / sv));

  ASSERT_EQ(done.size(), 2u);
  const CrashCleanup* ours = done[0].supervisor_pid == dead ? &done[0] : &done[1];
  const CrashCleanup* other = ours == &done[0] ? &done[1] : &done[0];
  EXPECT_EQ(ours->state_dir, (root.path() / sv).string());
  ASSERT_EQ(ours->jobs.size(), 3u);
  EXPECT_EQ(ours->jobs[0].state.job_id, "survivor");
  EXPECT_EQ(ours->jobs[0].cell, Cell::killed);
  EXPECT_THAT(ours->jobs[0].cgroups_removed, ElementsAre(cg + "/job-0"));
  EXPECT_EQ(ours->jobs[1].cell, Cell::already_gone);
  EXPECT_EQ(ours->jobs[2].cell, Cell::not_started);
  EXPECT_THAT(ours->cgroups_removed, ElementsAre(cg + "/job-9", cg));
  EXPECT_THAT(ours->errors, ElementsAre(HasSubstr("unreadable job file")));
  EXPECT_EQ(other->state_dir, "");  // cgroups only: it left no state here
  EXPECT_THAT(other->cgroups_removed, ElementsAre("/sys/fs/cgroup/memory/cellblock/" + other_sv));

  std::vector<std::string> lines = describe(*ours);
  const std::string head = "cleaned up after a crashed supervisor (pid " + std::to_string(dead) + "): ";
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], head + "job \"survivor\" (cell pid " + std::to_string(survivor_pid) +
                          ") killed, cgroup " + cg + "/job-0 removed");
  EXPECT_EQ(lines[1], head + "job \"reused\" (cell pid " + std::to_string(unrelated.pid()) +
                          ") already gone, no cgroup left");
  EXPECT_EQ(lines[2], head + "job \"unborn\" (no cell yet), no cgroup left");
  EXPECT_EQ(lines[3], head + "cgroup " + cg + "/job-9, " + cg + " removed, state " + ours->state_dir + " removed");
  EXPECT_THAT(lines[4], HasSubstr(head + "error: unreadable job file"));
}

TEST(CrashCleanup, NothingToDoLeavesALiveSupervisorAlone) {
  testing::TempDir root;
  SupervisorState mine(root.path(), {});
  SupervisorState::JobFile f = mine.job_starting("job-0", "running", {});
  StubCgroups cgroups;
  EXPECT_TRUE(clean_up_after_crashes(root.path(), cgroups).empty());
  EXPECT_TRUE(fs::exists(mine.dir() + "/job-0"));
}

TEST(CrashCleanup, ARecordedCgroupOutsideTheCgroupFilesystemIsNotTouched) {
  testing::TempDir root;
  const pid_t dead = dead_pid();
  const std::string sv = supervisor_dir_name(dead, 5);
  fs::create_directory(root.path() / sv);
  // A damaged or forged state naming directories that are no cgroups: reported, never removed.
  fs::path victim = root.path() / "victim" / sv / "job-1";
  fs::create_directories(victim);
  write(root.path() / sv / "job-1", format_job_state({"j", 0, 0, {victim.string()}}));
  write(root.path() / sv / "cgroups", "cgroup " + victim.parent_path().string() + "\n");
  StubCgroups cgroups;
  auto done = clean_up_after_crashes(root.path(), cgroups);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_THAT(done[0].errors, ElementsAre(HasSubstr("not a cgroup of " + sv), HasSubstr("not a cgroup of " + sv)));
  EXPECT_TRUE(fs::exists(victim));
  EXPECT_FALSE(fs::exists(root.path() / sv));
}

}  // namespace
}  // namespace cellblock
