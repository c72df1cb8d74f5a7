// Helpers for the tests that run the cellblock binary: a scratch directory per test with its own
// state directory and cgroup subtree (so that test processes running in parallel, and other
// supervisors on the host, never see each other's leftovers), a spawned cellblock whose output
// goes to files, and a way to run one under a pseudo-terminal.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "executor/supervisor_state.h"
#include "tests/integration/cell_test_util.h"

extern char** environ;

namespace cellblock::test {

// The cgroups (one per hierarchy) this process and the cellblocks it starts live in: cellblock
// builds <base>/<subtree>/sv-<pid>-<start>/job-<n> below each.
inline std::vector<std::filesystem::path> cgroup_bases() {
  std::vector<std::filesystem::path> out;
  for (const auto& sv : executor().cgroups().supervisor_dirs()) out.push_back(sv.parent_path().parent_path());
  return out;
}

// Every cgroup directory at or below <base>/<subtree>, in every hierarchy.
inline std::vector<std::string> cgroups_below(const std::string& subtree) {
  std::vector<std::string> found;
  for (const auto& base : cgroup_bases()) {
    std::filesystem::path top = base / subtree;
    std::error_code ec;
    if (!std::filesystem::is_directory(top, ec)) continue;
    found.push_back(top);
    for (auto it = std::filesystem::recursive_directory_iterator(top, ec); it != std::filesystem::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_directory(ec)) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The job files in a state directory (all supervisors), parsed.
inline std::vector<JobState> job_files_in(const std::string& state_dir) {
  std::vector<JobState> out;
  std::error_code ec;
  for (const auto& sv : std::filesystem::directory_iterator(state_dir, ec)) {
    if (sv.path().filename().string().rfind("sv-", 0) != 0) continue;
    for (const auto& f : std::filesystem::directory_iterator(sv.path(), ec))
      if (auto s = parse_job_state(read_file(f.path()))) out.push_back(*s);
  }
  return out;
}

// Names in a directory, sorted.
inline std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : lines(text))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// A temp dir for one test: job files, outputs, a state directory, and a cgroup subtree name of
// its own. At the end it removes the dir and the subtree's (empty) cgroup directories.
class Scratch {
 public:
  // In a delegated cgroup v2 (ci/vm-guest-disk with LEAF=<subtree>/supervisor) this test process
  // sits in the leaf <cgroup>/<subtree>/supervisor, and so does every cellblock it starts. Only
  // with that same subtree does a started cellblock take <cgroup> as its base (the driver strips
  // "/<subtree>/supervisor"); with any other it finds the test process beside it in a cgroup
  // that cannot enable controllers, and refuses to start. Empty when LEAF is not set.
  static std::string leaf_subtree() {
    const char* leaf = std::getenv("LEAF");
    std::string_view l = leaf ? leaf : "";
    constexpr std::string_view suffix = "/supervisor";
    if (l.size() <= suffix.size() || !l.ends_with(suffix)) return "";
    return std::string(l.substr(0, l.size() - suffix.size()));
  }

  explicit Scratch(const std::string& what)
      : dir_(std::filesystem::temp_directory_path() / ("cellblock-" + what + "-" + std::to_string(::getpid()))),
        subtree_(leaf_subtree().empty() ? "cellblock-test-" + what + "-" + std::to_string(::getpid()) : leaf_subtree()) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/state");
  }
  ~Scratch() {
    // A shared subtree also holds this test process's own supervisor: not ours to remove.
    std::vector<std::string> dirs = leaf_subtree().empty() ? cgroups_below(subtree_) : std::vector<std::string>{};
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir(it->c_str());  // deepest first
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // Written beside and renamed into place: a process already started that reads the file (a
  // worker reading defaults.json while the next worker's start writes it again) sees it whole.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name) + ".part") << text;
    std::filesystem::rename(path(name) + ".part", path(name));
    return path(name);
  }
  // One JSON object per line.
  std::string write_jobs(const std::string& name, const std::vector<nlohmann::json>& jobs) const {
    std::string text;
    for (const auto& j : jobs) text += j.dump() + "\n";
    return write(name, text);
  }
  std::string defaults() const {
    return write("defaults.json", nlohmann::json{{"rootfs", kRootfs}}.dump());
  }
  std::string state_dir() const { return dir_ + "/state"; }
  const std::string& subtree() const { return subtree_; }
  // cellblock's global options for this scratch: its state directory and cgroup subtree (or
  // `subtree`), then `more`.
  std::vector<std::string> global_args(const std::vector<std::string>& more = {}, const std::string& subtree = "") const {
    std::vector<std::string> args{"--state-dir", state_dir(), "--cgroup-subtree", subtree.empty() ? subtree_ : subtree};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

 private:
  std::string dir_;
  std::string subtree_;
};

// A running program with stdin from /dev/null (or a pipe: `with_stdin_pipe`), stdout and stderr
// in files. Killed and reaped at the end if it still runs.
class Spawned {
 public:
  Spawned(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
          bool with_stdin_pipe = false)
      : out_path_(out_path), err_path_(err_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int in[2] = {-1, -1};
    if (with_stdin_pipe) {
      if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
      posix_spawn_file_actions_adddup2(&fa, in[0], 0);
      stdin_.reset(in[1]);
    } else {
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (in[0] >= 0) ::close(in[0]);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    started_ = std::chrono::steady_clock::now();
  }
  ~Spawned() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // Writes to its stdin (with_stdin_pipe).
  void type(const std::string& text) const {
    [[maybe_unused]] ssize_t n = ::write(stdin_.get(), text.data(), text.size());
  }
  // Waits for it to end: its exit code, or 128 + the signal that killed it. Kills it and
  // returns -1 when it does not end within `timeout`.
  int wait(std::chrono::milliseconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  double seconds() const { return seconds_; }
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }

 private:
  pid_t pid_ = -1;
  UniqueFd stdin_;
  std::string out_path_, err_path_;
  std::chrono::steady_clock::time_point started_;
  double seconds_ = 0;
};

// `cellblock <global options> <verb> <args>`, outputs in the scratch dir as <name>.out and
// <name>.err. The global options are the scratch's (Scratch::global_args) unless given.
inline std::unique_ptr<Spawned> start_cellblock(const Scratch& s, const std::string& verb, const std::string& name,
                                                const std::vector<std::string>& args, std::vector<std::string> global = {}) {
  if (global.empty()) global = s.global_args();
  std::vector<std::string> argv{kCellblockBinary};
  for (const auto& a : global) argv.push_back(a);
  argv.push_back(verb);
  for (const auto& a : args) argv.push_back(a);
  return std::make_unique<Spawned>(argv, s.path(name + ".out"), s.path(name + ".err"));
}

inline std::unique_ptr<Spawned> start_batch(const Scratch& s, const std::string& name, const std::vector<std::string>& args,
                                            std::vector<std::string> global = {}) {
  return start_cellblock(s, "batch", name, args, std::move(global));
}

// The same under a pseudo-terminal: `script` (util-linux) runs it with stdin, stdout and stderr
// on a new pty that is its controlling terminal; what it writes there comes out on script's
// stdout (<name>.out), and what the test types (Spawned::type) goes in, so "\x03" is a Ctrl-C.
inline std::unique_ptr<Spawned> start_batch_on_terminal(const Scratch& s, const std::string& name,
                                                        const std::vector<std::string>& args) {
  auto shell_quote = [](const std::string& a) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string command = shell_quote(kCellblockBinary);
  for (const auto& a : s.global_args()) command += " " + shell_quote(a);
  command += " batch";
  for (const auto& a : args) command += " " + shell_quote(a);
  return std::make_unique<Spawned>(std::vector<std::string>{"/usr/bin/script", "-qec", command, "/dev/null"},
                                   s.path(name + ".out"), s.path(name + ".err"), /*with_stdin_pipe=*/true);
}

inline nlohmann::json sh_job(const std::string& id, const std::string& script, nlohmann::json limits = nlohmann::json::object()) {
  nlohmann::json j{{"id", id}, {"command", {"/bin/sh", "-c", script}}};
  if (!limits.empty()) j["limits"] = limits;
  return j;
}

}  // namespace cellblock::test
