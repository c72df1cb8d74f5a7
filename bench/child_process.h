// A program the benchmark starts and stops itself (redis-server, `cellblock worker`): spawned with
// its stdout and stderr in a log file, stopped by its pid (SIGTERM, then SIGKILL if it does not
// end), never by name, also when the benchmark leaves early.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cellblock::bench {

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string log_path) : log_path_(std::move(log_path)) {
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &files, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0) throw std::runtime_error("posix_spawn(" + argv[0] + "): " + std::strerror(rc));
  }
  // SIGTERM first even when the benchmark leaves early: a cellblock killed outright leaves its
  // cgroups for the next one to clean up.
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // False once it has ended (it is reaped then).
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, nullptr, WNOHANG) == 0) return true;
    pid_ = -1;
    return false;
  }
  // SIGTERM, and SIGKILL after `patience`; reaped either way.
  void stop(std::chrono::milliseconds patience = std::chrono::seconds(30)) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= give_up) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }
  // The end of its log, for an error message.
  std::string log_tail(size_t bytes = 600) const {
    std::ifstream f(log_path_);
    std::stringstream all;
    all << f.rdbuf();
    const std::string text = all.str();
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace cellblock::bench
