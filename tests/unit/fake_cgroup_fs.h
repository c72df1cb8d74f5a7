// A fake cgroup filesystem on a plain temp dir, for running the cgroup drivers without
// privilege (the youki / Firecracker habit). It does by hand what the kernel does:
//   - mkdir fills the new directory with the parent's interface files, with fresh values for
//     the per-cgroup ones (cgroup.procs empty, cgroup.events "populated 0", ...);
//   - rmdir refuses a cgroup with tasks or children (EBUSY) and removes the files with it;
//   - writing a pid to cgroup.procs moves it out of every other cgroup of that hierarchy;
//   - v2 hierarchies enforce "no internal processes": subtree_control refuses a non-root cgroup
//     with tasks, cgroup.procs refuses one with controllers enabled (EBUSY);
//   - "+c -c" updates subtree_control; io.max and blkio.throttle.* keep one line per device.
// Everything else is a plain file the test can fill in (stats) and read back (limits).
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "executor/cgroup/cgroup_fs.h"
#include "tests/file_util.h"

namespace cellblock::testing {

namespace fs = std::filesystem;

// A temp dir removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cellblock-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class FakeCgroupFs : public CgroupFsOps {
 public:
  enum class Kind { v1, v2 };
  // Each hierarchy root is a directory the test has filled with the files a cgroup there has.
  void add_hierarchy(const fs::path& root, Kind kind) { roots_[fs::weakly_canonical(root)] = kind; }

  int make_dir(int dirfd, const char* name) const override {
    fs::path dir = at(dirfd, name);
    if (::mkdir(dir.c_str(), 0755) != 0) return -1;
    for (const auto& e : fs::directory_iterator(dir.parent_path())) {
      if (!e.is_regular_file()) continue;
      std::string f = e.path().filename();
      std::string content = slurp(e.path());
      if (f == "cgroup.procs" || f == "cgroup.subtree_control" || f == "tasks" ||
          f.rfind("io.max", 0) == 0 || f.rfind("blkio.throttle.", 0) == 0) {
        content = "";
      } else if (f == "cgroup.events") {
        content = "populated 0\nfrozen 0\n";
      } else if (f == "freezer.state") {
        content = "THAWED\n";
      } else if (f == "cgroup.controllers") {
        content = slurp(dir.parent_path() / "cgroup.subtree_control");
      }
      spit(dir / f, content);
    }
    return 0;
  }

  int remove_dir(int dirfd, const char* name) const override {
    fs::path dir = at(dirfd, name);
    if (!fs::exists(dir)) {
      errno = ENOENT;
      return -1;
    }
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_directory()) {
        errno = EBUSY;
        return -1;
      }
    }
    if (fs::exists(dir / "cgroup.procs") && !slurp(dir / "cgroup.procs").empty()) {
      errno = EBUSY;
      return -1;
    }
    fs::remove_all(dir);
    return 0;
  }

  int write_file(int dirfd, const char* name, std::string_view value) const override {
    fs::path file = at(dirfd, name);
    if (!fs::exists(file)) return ENOENT;
    fs::path dir = file.parent_path();
    std::string f = file.filename();
    auto [root, kind] = hierarchy_of(dir);
    bool is_root = fs::weakly_canonical(dir) == root;
    if (f == "cgroup.procs") {
      if (kind == Kind::v2 && !is_root && !slurp(dir / "cgroup.subtree_control").empty())
        return EBUSY;
      std::string pid(value);
      for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.path().filename() != "cgroup.procs") continue;
        std::string out;
        std::istringstream in(slurp(e.path()));
        for (std::string line; std::getline(in, line);) {
          if (line != pid) out += line + "\n";
        }
        spit(e.path(), out);
      }
      spit(file, slurp(file) + pid + "\n");
      return 0;
    }
    if (f == "cgroup.subtree_control") {
      if (kind == Kind::v2 && !is_root && !slurp(dir / "cgroup.procs").empty()) return EBUSY;
      std::istringstream cur(slurp(file));
      std::set<std::string> on;
      for (std::string w; cur >> w;) on.insert(w);
      std::istringstream in{std::string(value)};
      for (std::string w; in >> w;) {
        if (w.size() < 2 || (w[0] != '+' && w[0] != '-')) return EINVAL;
        if (w[0] == '+')
          on.insert(w.substr(1));
        else
          on.erase(w.substr(1));
      }
      std::string out;
      for (const auto& c : on) out += (out.empty() ? "" : " ") + c;
      spit(file, out.empty() ? "" : out + "\n");
      return 0;
    }
    if (f == "io.max" || f.rfind("blkio.throttle.", 0) == 0) {
      // One line per device: a new value for a device replaces its line.
      std::string v(value);
      std::string dev = v.substr(0, v.find(' '));
      std::string out;
      std::istringstream in(slurp(file));
      for (std::string line; std::getline(in, line);) {
        if (line.substr(0, line.find(' ')) != dev) out += line + "\n";
      }
      spit(file, out + v + "\n");
      return 0;
    }
    spit(file, value);
    return 0;
  }

 private:
  static fs::path at(int dirfd, const char* name) {
    if (name[0] == '/') return name;
    return fs::read_symlink("/proc/self/fd/" + std::to_string(dirfd)) / name;
  }
  std::pair<fs::path, Kind> hierarchy_of(const fs::path& dir) const {
    fs::path c = fs::weakly_canonical(dir);
    for (const auto& [root, kind] : roots_) {
      auto rel = c.lexically_relative(root);
      if (!rel.empty() && *rel.begin() != "..") return {root, kind};
    }
    return {c, Kind::v1};
  }

  std::map<fs::path, Kind> roots_;
};

}  // namespace cellblock::testing
