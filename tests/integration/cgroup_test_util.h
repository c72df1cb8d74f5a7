// Helpers for the privileged cgroup tests: child processes that wait to be put in a cgroup
// before they run, and loop block devices for the I/O tests.
#pragma once

#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "executor/base/unique_fd.h"
#include "tests/file_util.h"

namespace cellblock::testing {

namespace fs = std::filesystem;

// A forked child that blocks until go(), so the test can put it in a cgroup first, and then
// exits with fn()'s value. The destructor SIGKILLs and reaps it if the test did not.
class Child {
 public:
  explicit Child(std::function<int()> fn) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::close(p[1]);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(100);
      ::close(p[0]);
      ::_exit(fn());
    }
    ::close(p[0]);
    go_.reset(p[1]);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void go() {
    if (::write(go_.get(), "g", 1) != 1) throw std::runtime_error("cannot start the child");
    go_.reset();
  }
  // The wait status, or nullopt if the child is still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return status;
      }
      if (r < 0) throw std::runtime_error("waitpid failed");
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  pid_t pid_ = -1;
  UniqueFd go_;
  bool reaped_ = false;
};

// A loop block device over a sparse temp file, detached at the end. nullopt-like: check ok().
class LoopDevice {
 public:
  // `image` is written first if not empty (e.g. a partition table).
  explicit LoopDevice(uint64_t size, bool partscan = false, std::string_view head = {}) {
    std::string tmpl = (fs::temp_directory_path() / "cellblock-loop-XXXXXX").string();
    UniqueFd file(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!file) return;
    backing_ = tmpl;
    if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0) return;
    if (!head.empty() &&
        ::pwrite(file.get(), head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) {
      return;
    }
    UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!ctl) {
      why_ = "no /dev/loop-control";
      return;
    }
    for (int attempt = 0; attempt < 10; ++attempt) {
      int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
      if (n < 0) {
        why_ = "LOOP_CTL_GET_FREE failed";
        return;
      }
      std::string path = "/dev/loop" + std::to_string(n);
      UniqueFd dev(::open(path.c_str(), O_RDWR | O_CLOEXEC));
      if (!dev) continue;
      loop_config cfg{};
      cfg.fd = static_cast<uint32_t>(file.get());
      cfg.info.lo_flags = partscan ? LO_FLAGS_PARTSCAN : 0;
      if (::ioctl(dev.get(), LOOP_CONFIGURE, &cfg) != 0) continue;  // raced: try another
      struct stat st;
      ::fstat(dev.get(), &st);
      major_ = ::major(st.st_rdev);
      minor_ = ::minor(st.st_rdev);
      path_ = path;
      dev_ = std::move(dev);
      return;
    }
    why_ = "no free loop device";
  }
  ~LoopDevice() {
    if (dev_) ::ioctl(dev_.get(), LOOP_CLR_FD);
    if (!backing_.empty()) ::unlink(backing_.c_str());
  }
  bool ok() const { return dev_.valid(); }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }
  unsigned major() const { return major_; }
  unsigned minor() const { return minor_; }

 private:
  std::string backing_;
  std::string path_;
  std::string why_ = "cannot make the backing file";
  UniqueFd dev_;
  unsigned major_ = 0, minor_ = 0;
};

}  // namespace cellblock::testing
