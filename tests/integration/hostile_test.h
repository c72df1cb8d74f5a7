// Shared by the hostile-suite tests (hostile_test.cc, hostile_findings_test.cc): a fixture that
// checks, after every test, that the host is exactly as it was, and a matcher for the RESULT lines
// the hostile programs print (tests/hostile/README.md).
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {

constexpr uint64_t KiB = 1 << 10;
constexpr uint64_t MiB = 1 << 20;

// Every job of the suite carries this variable with a value unique to the test: a process left
// on the host by a job, wherever it was re-parented and whatever it exec'd, still has it in
// /proc/PID/environ (a cell's command line cannot carry a marker: it is the program's argv).
inline const char* kMarkVariable = "CELLBLOCK_HOSTILE_MARK";

inline std::vector<int> host_processes_marked(const std::string& marker) {
  const std::string needle = std::string(kMarkVariable) + "=" + marker;
  std::vector<int> found;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
    for (size_t start = 0; start < env.size();) {
      size_t end = env.find('\0', start);
      if (end == std::string::npos) end = env.size();
      if (env.compare(start, end - start, needle) == 0) {
        found.push_back(pid);
        break;
      }
      start = end + 1;
    }
  }
  closedir(d);
  return found;
}

// What a tree holds, as "path size" lines, without following symbolic links: a write that got
// through to the host's copy of the tree shows as a new line or a new size.
inline std::string tree_listing(const std::string& root) {
  std::string out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto status = it->symlink_status();
    out += it->path().string();
    if (std::filesystem::is_regular_file(status)) out += " " + std::to_string(it->file_size());
    out += "\n";
  }
  if (ec) out += "error: " + ec.message() + "\n";
  return out;
}

inline std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// What a job must not change on the host.
struct HostState {
  std::set<std::string> fds;          // this process's (the supervisor's) open descriptors
  std::string mountinfo;              // this process's mount table
  std::string hostname;
  std::vector<int> children;          // processes whose parent is the supervisor
  std::vector<std::string> job_cgroups;
  // The host storage a cell's writes could reach if its writable layer were not where it belongs:
  // the rootfs (the overlay's read-only lower layer) and the stage directory its tmpfs is mounted
  // over inside the cell. Both are looked at directly rather than through free disk space, which
  // every other process on the machine moves too.
  std::string rootfs;
  std::string stage;

  static HostState now() {
    HostState s;
    s.fds = open_fds();
    s.mountinfo = read_file("/proc/self/mountinfo");
    s.hostname = host_name();
    s.children = children_of_this_process();
    s.job_cgroups = test::job_cgroups();
    s.rootfs = tree_listing(kRootfs);
    s.stage = tree_listing(ExecutorConfig{}.state_dir + "/stage");
    return s;
  }
};

// After every test: the host is as it was before. The file-system check is opt-in (check_disk_)
// because it walks the rootfs: the cases that fill a disk ask for it.
class HostUntouched : public ::testing::Test {
 protected:
  void SetUp() override {
    // The executor and the policy registry open what they keep for their lifetime at first use,
    // so they are opened before the "before" picture. This is in SetUp, not SetUpTestSuite: an
    // exception there makes googletest skip the suite's tests, and ctest would report a skip
    // instead of the failure and its message.
    static const bool warmed = [] {
      for (const char* policy : {"default", "build", "judge"}) run(sh("true", policy));
      return true;
    }();
    ASSERT_TRUE(warmed);
    marker_ = unique_marker("hostile");
    before_ = HostState::now();
    ASSERT_TRUE(before_.children.empty()) << "a previous test left a child process";
    ASSERT_TRUE(before_.job_cgroups.empty()) << "a previous test left a job cgroup";
  }

  void TearDown() override {
    const HostState after = HostState::now();
    EXPECT_EQ(host_processes_marked(marker_), std::vector<int>{}) << "processes of the job outlived it";
    EXPECT_EQ(after.children, before_.children) << "the supervisor has a child left";
    EXPECT_EQ(after.job_cgroups, before_.job_cgroups) << "a job cgroup was not removed";
    EXPECT_EQ(after.mountinfo, before_.mountinfo) << "the host's mount table changed";
    EXPECT_EQ(after.fds, before_.fds) << "the supervisor's descriptors changed";
    EXPECT_EQ(after.hostname, before_.hostname) << "the host's name changed";
    if (check_disk_) {
      EXPECT_EQ(after.rootfs, before_.rootfs) << "the job wrote into the host's copy of its rootfs";
      EXPECT_EQ(after.stage, before_.stage) << "the job wrote into the host's stage directory";
    }
  }

  // A job of the suite: the program at /t, the marker in its environment.
  JobSpec hostile_job(std::vector<std::string> argv, const std::string& policy) const {
    JobSpec j = with_programs(job(std::move(argv), policy));
    j.env[kMarkVariable] = marker_;
    return j;
  }

  std::string marker_;
  HostState before_;
  bool check_disk_ = false;
};

// One expected stdout line: a regular expression the whole line must match, `min` to `max` times
// in a row.
struct Line {
  std::string pattern;
  int min = 1;
  int max = 1;
};
inline Line one(std::string p) { return {std::move(p), 1, 1}; }
inline Line maybe(std::string p) { return {std::move(p), 0, 1}; }
inline Line some(std::string p) { return {std::move(p), 1, INT_MAX}; }
inline Line any(std::string p) { return {std::move(p), 0, INT_MAX}; }

inline bool lines_match(const std::vector<std::string>& out, size_t o, const std::vector<std::regex>& res,
                        const std::vector<Line>& want, size_t w) {
  if (w == want.size()) return o == out.size();
  int n = 0;
  while (n < want[w].max && o + n < out.size() && std::regex_match(out[o + n], res[w])) ++n;
  for (; n >= want[w].min; --n)
    if (lines_match(out, o + n, res, want, w + 1)) return true;
  return false;
}

// Succeeds when `text`, line by line, is exactly what `want` describes.
inline ::testing::AssertionResult output_is(const std::string& text, const std::vector<Line>& want) {
  std::vector<std::regex> res;
  for (const Line& l : want) res.emplace_back(l.pattern);
  if (lines_match(lines(text), 0, res, want, 0)) return ::testing::AssertionSuccess();
  std::string expected;
  for (const Line& l : want)
    expected += "  " + l.pattern + (l.min == 1 && l.max == 1 ? "" : l.min == 0 && l.max == 1 ? "   (optional)"
                                                                     : l.min == 0 ? "   (any number)"
                                                                                  : "   (one or more)") + "\n";
  return ::testing::AssertionFailure() << "expected lines:\n" << expected << "got:\n" << text;
}

// The number after "key=" in the output, or -1.
inline long long number_after(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(key + "=(\\d+)"))) return -1;
  return std::stoll(m[1]);
}

inline std::string regex_escape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

}  // namespace cellblock::test
