// Nothing lost: a job `cellblock serve` answered with 202 survives the service's death (kill -9)
// and its shutdown, and results survive a restart (jobs/service/journal.h, docs/api.md).
#include <gmock/gmock.h>
#include <sys/mount.h>

#include <fcntl.h>

#include <cstring>

#include "executor/base/unique_fd.h"
#include "jobs/service/write_ahead_log.h"
#include "tests/integration/calibration.h"
#include "tests/integration/service_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out = entries(dir);
  return out;
}

// How many records of kind `op` the journal's log holds now (jobs/service/journal.h).
size_t logged(const Scratch& s, const std::string& op) {
  const std::string log = s.state_dir() + "/service/log";
  UniqueFd dir(::open(log.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return 0;
  const service::WriteAheadLog::Contents contents = service::WriteAheadLog(log, dir.get()).read();
  return std::count_if(contents.records.begin(), contents.records.end(),
                       [&](const json& r) { return r.value("op", "") == op; });
}

size_t count_suffix(const std::vector<std::string>& names, const std::string& suffix) {
  return std::count_if(names.begin(), names.end(), [&](const std::string& n) {
    return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

TEST(ServiceCrash, KilledWithQueuedAndRunningJobsEveryJobGetsOneResult) {
  Scratch s("serve-crash");
  std::filesystem::create_directories(s.path("gate"));
  const std::string ids = s.path("ids.json");
  Serve serve(s, "serve", {"--parallel", "2"});
  // Two jobs running (each waits for the gate), three queued behind them.
  Ran submit = scenario(s, "submit", {"submit-gated", serve.unix_address(), s.path("gate"), "2", "3", ids});
  ASSERT_EQ(submit.code, 0) << submit.err;
  const std::string journal = s.state_dir() + "/service/jobs";
  // Every accepted job is in the journal's log before its 202; a start is logged by the
  // journal's own thread right after the job starts. Files wait for a checkpoint.
  EXPECT_EQ(logged(s, "accept"), 5u);
  ASSERT_TRUE(eventually([&] { return logged(s, "start") == 2; })) << logged(s, "start");
  EXPECT_THAT(names_in(journal), ::testing::IsEmpty());

  serve.kill9();
  // The next service on the same state directory queues them all again; the two that ran run
  // again as attempt 2. The gate opens once it is up: every job can end now.
  serve.start();
  EXPECT_THAT(serve.err(), HasSubstr("journal: queued 5 job(s) again that a previous service had accepted (2 had started"));
  std::ofstream(s.path("gate/release")).close();
  Ran check = scenario(s, "check", {"check-all", serve.unix_address(), ids});
  EXPECT_EQ(check.code, 0) << check.err << serve.err();
  // The results are in the log; the files of the jobs the load wrote wait for a checkpoint.
  EXPECT_TRUE(eventually([&] { return logged(s, "result") == 5; })) << logged(s, "result");

  // Results survive a restart too (a clean one this time), whose checkpoint wrote them out as
  // files and removed the jobs' files.
  serve.signal(SIGTERM);
  ASSERT_EQ(serve.wait(), 0) << serve.err();
  EXPECT_THAT(names_in(journal), ::testing::IsEmpty());
  EXPECT_EQ(count_suffix(names_in(s.state_dir() + "/service/results"), ".json"), 5u);
  serve.start();
  const json listed = json::parse(curl_unix(s, serve, {}, "/v1/jobs?state=done").body);
  EXPECT_EQ(listed["jobs"].size(), 5u) << listed << serve.err();
  for (const json& j : listed["jobs"]) EXPECT_EQ(j["status"], "exited") << j;
}

TEST(ServiceCrash, SigtermKeepsQueuedAndInterruptedJobsForTheNextStart) {
  Scratch s("serve-term");
  std::filesystem::create_directories(s.path("gate"));
  const std::string ids = s.path("ids.json");
  Serve serve(s, "serve", {"--parallel", "1", "--grace", "200ms"});
  Ran submit = scenario(s, "submit", {"submit-gated", serve.unix_address(), s.path("gate"), "1", "2", ids});
  ASSERT_EQ(submit.code, 0) << submit.err;
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(), 0) << serve.err();
  const std::string err = serve.err();
  EXPECT_THAT(err, HasSubstr("SIGTERM: stopped accepting; running jobs get the grace period (200 ms)"));
  EXPECT_THAT(err, HasSubstr("every job has ended; the journal is on disk; exiting"));
  // No result was made up for what the shutdown interrupted: the journal still has all three,
  // written out as files by the clean stop's checkpoint, which emptied the log; the one that
  // was running has its start there too.
  EXPECT_EQ(count_suffix(names_in(s.state_dir() + "/service/jobs"), ".json"), 3u);
  EXPECT_EQ(count_suffix(names_in(s.state_dir() + "/service/jobs"), ".started"), 1u);
  EXPECT_EQ(count_suffix(names_in(s.state_dir() + "/service/results"), ".json"), 0u);
  EXPECT_EQ(logged(s, "accept"), 0u);

  serve.start();
  std::ofstream(s.path("gate/release")).close();
  Ran check = scenario(s, "check", {"check-all", serve.unix_address(), ids});
  EXPECT_EQ(check.code, 0) << check.err << serve.err();
}

// A journaled job runs again only under the --allow-host-path of the service that queues it
// again: an operator who narrows the directories and restarts does not get the old jobs' paths.
// What the --defaults give is the operator's and stays unchecked. `older_journal`: the records
// lose "client", as a service before it wrote them; their jobs' own paths are checked then.
void recheck_after_restart(const std::string& name, bool older_journal) {
  Scratch s(name);
  std::filesystem::create_directories(s.path("elsewhere"));
  // The job's own rootfs, by a path other than the defaults' (an older journal's check tells
  // them apart by that): the test rootfs through a symlink in the scratch directory.
  std::filesystem::create_directories(s.path("mine"));
  std::filesystem::create_symlink(kRootfs, s.path("mine/rootfs"));
  Serve serve(s, "serve", {"--parallel", "1", "--grace", "200ms", "--allow-host-path", kRootfs, "--allow-host-path", s.path("mine")});
  auto post = [&](const json& job) {
    Http h = curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs");
    EXPECT_EQ(h.code, 202) << h.body;
    return json::parse(h.body).value("id", "");
  };
  auto record = [&](const std::string& id) { return json::parse(curl_unix(s, serve, {}, "/v1/jobs/" + id).body); };
  // One slot: the blocker (the defaults' rootfs) runs, the job naming its own rootfs waits.
  const std::string blocker = post({{"command", {"sleep", "600"}}});
  ASSERT_TRUE(eventually([&] { return record(blocker)["state"] == "running"; })) << serve.err();
  const std::string named = post({{"rootfs", s.path("mine/rootfs")}, {"command", {"/bin/true"}}});
  EXPECT_EQ(record(named)["state"], "queued");
  serve.signal(SIGTERM);
  ASSERT_EQ(serve.wait(), 0) << serve.err();
  if (older_journal) {
    // The clean stop's checkpoint left both jobs as files (SigtermKeepsQueued... above).
    for (const std::string& id : {blocker, named}) {
      const std::string file = s.state_dir() + "/service/jobs/" + id + ".json";
      json r = json::parse(read_file(file));
      ASSERT_TRUE(r.contains("client")) << r;
      r.erase("client");
      std::ofstream(file) << r.dump() << "\n";
    }
  }

  serve.restart_with({"--parallel", "1", "--grace", "200ms", "--allow-host-path", s.path("elsewhere")});
  const json done = json::parse(curl_unix(s, serve, {}, "/v1/jobs/" + named + "/wait?timeout=60").body);
  ASSERT_EQ(done["state"], "done") << done << serve.err();
  EXPECT_EQ(done["result"]["status"], "invalid_job") << done;
  const std::string error = done["result"]["error"].get<std::string>();
  EXPECT_THAT(error, HasSubstr("after a restart: rootfs: "));
  EXPECT_THAT(error, HasSubstr("outside the directories a client's job may name"));
  EXPECT_THAT(error, HasSubstr(s.path("elsewhere")));
  // The blocker named no host path of its own: it runs again, as its next attempt.
  EXPECT_TRUE(eventually([&] { return record(blocker)["state"] == "running"; })) << record(blocker) << serve.err();
  EXPECT_EQ(record(blocker)["attempt"], 2) << record(blocker);
}

TEST(ServiceCrash, AJobQueuedAgainIsCheckedAgainstTheRestartedServicesAllowedPaths) {
  recheck_after_restart("serve-recheck-paths", false);
}

TEST(ServiceCrash, AJobAnOlderServiceJournaledIsCheckedByItsOwnPathsLessTheDefaults) {
  recheck_after_restart("serve-recheck-older", true);
}

// A start that fails after it has opened the journal but before it has read it (here: its unix
// socket cannot be made) must leave the log alone: it holds the only copy of the jobs a killed
// service had accepted. The next start reads it, writes the jobs' files and only then empties
// the log, so a second kill -9 right after that start loses nothing either.
TEST(ServiceCrash, AStartThatFailsLeavesTheLogAndALoadWritesTheFilesBeforeEmptyingIt) {
  Scratch s("serve-failed-start");
  std::filesystem::create_directories(s.path("gate"));
  Serve serve(s, "serve", {"--parallel", "1"});
  Ran submit = scenario(s, "submit", {"submit-gated", serve.unix_address(), s.path("gate"), "1", "2", s.path("ids.json")});
  ASSERT_EQ(submit.code, 0) << submit.err;
  serve.kill9();
  ASSERT_EQ(logged(s, "accept"), 3u);

  const std::string not_a_dir = s.write("not-a-dir", "");
  std::vector<std::string> argv{kCellblockBinary};
  for (const auto& a : s.global_args()) argv.push_back(a);
  for (const std::string a : {"serve", "--unix"}) argv.push_back(a);
  argv.push_back(not_a_dir + "/api.sock");
  argv.push_back("--defaults");
  argv.push_back(s.defaults());
  Ran failed = run_program(s, "failed", argv, 60s);
  EXPECT_EQ(failed.code, 1) << failed.err;
  EXPECT_EQ(logged(s, "accept"), 3u) << failed.err;
  EXPECT_EQ(logged(s, "start"), 1u);

  serve.start();
  EXPECT_THAT(serve.err(), HasSubstr("journal: queued 3 job(s) again that a previous service had accepted (1 had started"));
  const std::string jobs = s.state_dir() + "/service/jobs";
  EXPECT_EQ(count_suffix(names_in(jobs), ".json"), 3u) << ::testing::PrintToString(names_in(jobs));
  EXPECT_EQ(count_suffix(names_in(jobs), ".started"), 1u) << ::testing::PrintToString(names_in(jobs));
  EXPECT_EQ(logged(s, "accept"), 0u);
  serve.kill9();
  serve.start();
  EXPECT_THAT(serve.err(), HasSubstr("journal: queued 3 job(s) again that a previous service had accepted"));
  std::ofstream(s.path("gate/release")).close();
}

// Between checkpoints the journal's write-ahead log (jobs/service/write_ahead_log.h) is all there
// is of a job: it is fdatasync'd before an answer, and files are written only by a checkpoint.
// After a kill -9 no job or result has a file, and the next service finds them all in the log:
// the queued and running jobs run, the finished job keeps its result.
TEST(ServiceCrash, JobsAndResultsComeBackFromTheLogAlone) {
  Scratch s("serve-wal");
  std::filesystem::create_directories(s.path("gate"));
  const std::string ids = s.path("ids.json");
  Serve serve(s, "serve", {"--parallel", "1"});
  Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"command": ["/bin/echo", "kept"]})"},
                       "/v1/jobs?wait=60");
  ASSERT_EQ(ran.code, 200) << ran.body;
  const std::string done_id = json::parse(ran.body)["id"];
  Ran submit = scenario(s, "submit", {"submit-gated", serve.unix_address(), s.path("gate"), "1", "2", ids});
  ASSERT_EQ(submit.code, 0) << submit.err;
  serve.kill9();

  const std::string service = s.state_dir() + "/service";
  const std::vector<std::string> segments = names_in(service + "/log");
  ASSERT_FALSE(segments.empty());
  EXPECT_THAT(names_in(service + "/jobs"), ::testing::IsEmpty());
  EXPECT_THAT(names_in(service + "/results"), ::testing::IsEmpty());
  EXPECT_EQ(logged(s, "accept"), 4u);  // three jobs, and the one that is done
  EXPECT_EQ(logged(s, "result"), 1u);

  serve.start();
  EXPECT_THAT(serve.err(), HasSubstr("journal: queued 3 job(s) again that a previous service had accepted (1 had started"));
  // The checkpoint after the load made the files durable and removed the old segments.
  for (const std::string& segment : segments)
    EXPECT_FALSE(std::filesystem::exists(service + "/log/" + segment)) << segment;
  const json kept = json::parse(curl_unix(s, serve, {}, "/v1/jobs/" + done_id).body);
  EXPECT_EQ(kept["state"], "done") << kept;
  EXPECT_EQ(kept["result"]["stdout"], "kept\n") << kept;
  std::ofstream(s.path("gate/release")).close();
  Ran check = scenario(s, "check", {"check-all", serve.unix_address(), ids});
  EXPECT_EQ(check.code, 0) << check.err << serve.err();
}

// The service queues a job while the journal writes it (so the disk's fsync overlaps the run) and
// answers only once it is on disk. When the journal cannot write it, the client hears 500 and the
// job is withdrawn: cancelled if it had started, and neither listed nor kept. The journal's log/
// is a tmpfs with no inode to spare, so its first segment cannot be made (ENOSPC).
TEST(ServiceCrash, AJobTheJournalCannotWriteGets500AndIsNotKept) {
  Scratch s("serve-nospace");
  const std::string jobs = s.state_dir() + "/service/jobs", log = s.state_dir() + "/service/log";
  std::filesystem::create_directories(log);
  ASSERT_EQ(::mount("tmpfs", log.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=1,mode=0700"), 0)
      << "mount tmpfs on " << log << ": " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{log};
  {
    Serve serve(s, "serve", {});
    Http refused = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"command": ["/bin/sleep", "30"]})"},
                             "/v1/jobs?wait=60");
    EXPECT_EQ(refused.code, 500) << refused.body;
    EXPECT_THAT(refused.body, HasSubstr("the job could not be journaled")) << refused.body;
    EXPECT_THAT(refused.body, HasSubstr("No space left on device")) << refused.body;
    // Withdrawn at once: the sleep was cancelled, not waited for, and nothing of it is listed.
    EXPECT_TRUE(eventually([&] { return json::parse(curl_unix(s, serve, {}, "/v1/jobs").body)["jobs"].empty(); }))
        << curl_unix(s, serve, {}, "/v1/jobs").body;
    const json health = json::parse(curl_unix(s, serve, {}, "/v1/health").body);
    EXPECT_EQ(health["running"], 0) << health;
    EXPECT_EQ(health["queued"], 0) << health;
  }
  EXPECT_THAT(names_in(jobs), ::testing::IsEmpty());
  EXPECT_THAT(names_in(s.state_dir() + "/service/results"), ::testing::IsEmpty());
}

// The result is there right after the job, then gone. "Right after" is a curl started after the
// answer, which on a busy machine (or the emulated cgroup v2 guest, where one trivial job took
// 170 ms) can take more than a second: the time kept is fifty trivial jobs' worth, at least 1 s.
TEST(ServiceCrash, ResultsExpireAfterKeepResults) {
  Scratch s("serve-expire");
  const auto keep_ms = static_cast<long>(std::max(1000.0, 50 * job_ms()));
  Serve serve(s, "serve", {"--keep-results", std::to_string(keep_ms) + "ms"});
  Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"command": ["/bin/true"]})"}, "/v1/jobs?wait=60");
  ASSERT_EQ(ran.code, 200) << ran.body;
  const std::string id = json::parse(ran.body)["id"];
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/" + id).code, 200);
  EXPECT_TRUE(eventually([&] { return curl_unix(s, serve, {}, "/v1/jobs/" + id).code == 404; }, 60s));
  // Forgotten in the log, where its result was: after a kill -9 the next load drops it.
  EXPECT_TRUE(eventually([&] { return logged(s, "forget") == 1; }, 10s)) << logged(s, "forget");
  serve.kill9();
  serve.start();
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/" + id).code, 404);
  EXPECT_THAT(names_in(s.state_dir() + "/service/results"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace cellblock::test
