// Shared helpers for the privileged integration tests: one Executor per test process, jobs in the
// busybox test rootfs, the static cell programs bound read-only at /t, and host-side probes.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "executor/executor.h"
#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"
#include "jobs/format/policy_json.h"

namespace cellblock::test {

using namespace std::chrono_literals;

inline const char* kRootfs = CELLBLOCK_TEST_ROOTFS;
inline const char* kCellPrograms = CELLBLOCK_CELL_PROGRAMS;
inline const char* kCellblockBinary = CELLBLOCK_BINARY;

inline Executor& executor() {
  static Executor e;
  return e;
}

inline PolicyRegistry& policies() {
  static PolicyRegistry registry;
  return registry;
}

// A job in the test rootfs under the default policy (or `policy`).
inline JobSpec job(std::vector<std::string> command, const std::string& policy = "default") {
  JobSpec j;
  j.policy = policy;
  j.security = policies().get(policy);
  j.rootfs = kRootfs;
  j.command = std::move(command);
  j.env["PATH"] = "/bin";
  return j;
}

inline JobSpec sh(const std::string& script, const std::string& policy = "default") {
  return job({"/bin/sh", "-c", script}, policy);
}

// Adds the static test programs at /t (read-only).
inline JobSpec with_programs(JobSpec j) {
  j.mounts.push_back({kCellPrograms, "/t", true});
  return j;
}

inline Result run(const JobSpec& j) { return executor().run(j); }

inline std::string describe(const Result& r) { return dump_json(result_to_json(r)); }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Host pids whose command line contains `marker` (to find anything a job left behind).
inline std::vector<int> host_processes_with(const std::string& marker) {
  std::vector<int> found;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(marker) != std::string::npos) found.push_back(pid);
  }
  closedir(d);
  return found;
}

// A marker unique to this test process, to tag processes a job starts.
inline std::string unique_marker(const std::string& what) {
  static int n = 0;
  return "cbmark-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

inline std::vector<int> children_of_this_process() {
  std::vector<int> kids;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close != std::string::npos && atoi(stat.c_str() + close + 4) == getpid()) kids.push_back(pid);
  }
  closedir(d);
  return kids;
}

// The job cgroups of executor() (directories below its sv- directories).
inline std::vector<std::string> job_cgroups() {
  std::vector<std::string> found;
  for (const auto& dir : executor().cgroups().supervisor_dirs())
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.is_directory()) found.push_back(entry.path());
  return found;
}

// Calls pred() until it is true or `timeout` passes; returns its last answer.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// This process's open fds as "N -> what it points at", so that a difference names the file.
inline std::set<std::string> open_fds() {
  std::set<std::string> fds;
  DIR* d = opendir("/proc/self/fd");
  int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == own) continue;
    std::error_code ec;
    auto target = std::filesystem::read_symlink(std::string("/proc/self/fd/") + e->d_name, ec);
    fds.insert(std::string(e->d_name) + " -> " + (ec ? "?" : target.string()));
  }
  closedir(d);
  return fds;
}

}  // namespace cellblock::test
