// What the image tests share (images_test.cc, images_service_test.cc): the test image, built once
// per test process by umoci and skopeo (tests/images/make-image), and the `cellblock` binary
// run as a shell command.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/file_util.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {

inline const std::string kTools = CELLBLOCK_IMAGE_TOOLS;

struct Shelled {
  int exit_code;
  std::string out, err;
};

// A shell command line; stdout and stderr kept apart.
inline Shelled shell(const std::string& cmd, const std::string& scratch) {
  std::string out = scratch + ".out", err = scratch + ".err";
  int status = std::system((cmd + " >" + out + " 2>" + err + " </dev/null").c_str());
  Shelled r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, cellblock::testing::slurp(out), cellblock::testing::slurp(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

inline std::string fresh_dir(const std::string& name) {
  std::filesystem::path d =
      std::filesystem::temp_directory_path() / ("cellblock-images-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// The umoci/skopeo image (OUT/oci with tags "test" and "user", OUT/image.tar), built once per
// test process and removed when it exits.
inline const std::string& fixture() {
  struct Fixture {
    std::string base = fresh_dir("fixture");
    std::string image = base + "/img";
    Fixture() {
      Shelled r = shell(kTools + "/make-image " + kRootfs + " " + image, base + "/make");
      if (r.exit_code != 0) throw std::runtime_error("tests/images/make-image failed: " + r.err);
    }
    ~Fixture() { std::filesystem::remove_all(base); }
  };
  static const Fixture f;
  return f.image;
}

inline Shelled cellblock(const std::string& state_dir, const std::string& args) {
  return shell(std::string(kCellblockBinary) + " --state-dir " + state_dir + " " + args, state_dir + "/cmd");
}

inline nlohmann::json result_of(const Shelled& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

// What the image's Cmd prints in the merged tree: the Env and WorkingDir of the config, /data
// without the whited-out "a", /opq with only the opaque layer's "new", /keep a file now.
constexpr const char* kMergedTree = "hello from /data\nb\nnew\nfile\n";

}  // namespace cellblock::test
