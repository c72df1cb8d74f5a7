// The host paths a client's job may name (jobs/format/client_host_paths.h): only inside the
// directories the operator allows, with symlinks and ".." resolved first, every field named.
#include "jobs/format/client_host_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ClientHostPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cellblock-host-paths-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "allowed" / "rootfs");
    fs::create_directories(root_ / "allowed-not");  // a name that starts like the allowed one
    fs::create_directories(root_ / "secret");
    fs::create_symlink(root_ / "secret", root_ / "allowed" / "link");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  // The field check() names, or "" when the job passes.
  std::string refused_field(const ClientHostPaths& paths, const json& job) const {
    try {
      paths.check(job);
      return "";
    } catch (const FieldError& e) {
      return e.field();
    }
  }
  fs::path root_;
};

TEST_F(ClientHostPathsTest, PathsInsideAnAllowedDirectoryPass) {
  ClientHostPaths paths({path("allowed")});
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed/rootfs")}}), "");
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed")}}), "");
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed/rootfs/")}}), "") << "a trailing slash";
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed-not/../allowed/rootfs")}}), "") << "\"..\" that stays inside";
  EXPECT_EQ(refused_field(paths, {{"mounts", {{{"source", path("allowed/rootfs")}, {"target", "/x"}}}}}), "");
  EXPECT_EQ(refused_field(paths, {{"policy", "judge"}}), "") << "a policy by name is no host path";
  EXPECT_EQ(refused_field(paths, {{"command", {"/bin/true"}}}), "") << "a job naming no host path";
}

TEST_F(ClientHostPathsTest, PathsOutsideAreRefusedNamingTheField) {
  ClientHostPaths paths({path("allowed")});
  EXPECT_EQ(refused_field(paths, {{"rootfs", "/"}}), "rootfs");
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed-not")}}), "rootfs") << "a prefix of the name is not inside";
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed/../secret")}}), "rootfs") << "\"..\" resolved first";
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed/link")}}), "rootfs") << "a symlink resolved first";
  EXPECT_EQ(refused_field(paths, {{"rootfs", "allowed/rootfs"}}), "rootfs") << "a relative path";
  EXPECT_EQ(refused_field(paths, {{"rootfs", path("allowed/missing")}}), "rootfs");
  json mounts = {{"mounts", {{{"source", path("allowed/rootfs")}, {"target", "/a"}},
                             {{"source", "/"}, {"target", "/host"}, {"readonly", false}}}}};
  EXPECT_EQ(refused_field(paths, mounts), "mounts[1].source");
  EXPECT_EQ(refused_field(paths, {{"policy", path("secret/p.json")}}), "policy");
  EXPECT_EQ(refused_field(paths, {{"policy", path("allowed/p.json")}}), "policy") << "a policy file, even inside";
  EXPECT_EQ(refused_field(paths, {{"mounts", {{{"source", path("allowed/rootfs")}, {"target", "/a"}, {"readonly", false}}}}}),
            "mounts[0].readonly")
      << "a client's mount is read-only, even inside";
  EXPECT_EQ(refused_field(paths, {{"pod", {{"services", {{{"name", "db"}, {"rootfs", path("secret")}}}}}}}),
            "pod.services[0].rootfs");
  // A refusal tells a client nothing of the host outside: not where a link leads, and not
  // whether a path outside exists (no look at the host for a path outside by its text).
  auto refusal = [&](const std::string& probe) {
    try {
      paths.check({{"rootfs", probe}});
    } catch (const FieldError& e) {
      return std::string(e.what());
    }
    return std::string("not refused");
  };
  const std::string link = refusal(path("allowed/link")), missing = refusal(path("no-such-dir"));
  EXPECT_EQ(link.find("secret"), std::string::npos) << "names where the link leads: " << link;
  EXPECT_NE(link.find("--allow-host-path"), std::string::npos) << link;
  EXPECT_EQ(missing.find("No such file"), std::string::npos) << "looked outside: " << missing;
  std::string alike = missing;  // the same words, but for the path
  alike.replace(alike.find(path("no-such-dir")), path("no-such-dir").size(), path("secret"));
  EXPECT_EQ(refusal(path("secret")), alike) << "a path outside that exists and one that does not are refused alike";
}

TEST_F(ClientHostPathsTest, NoDirectoryAllowsNoHostPathAndRootAllowsAll) {
  ClientHostPaths none;
  EXPECT_EQ(refused_field(none, {{"rootfs", path("allowed/rootfs")}}), "rootfs");
  EXPECT_EQ(refused_field(none, {{"command", {"/bin/true"}}}), "");
  ClientHostPaths all({"/"});
  EXPECT_EQ(refused_field(all, {{"rootfs", path("secret")}, {"mounts", {{{"source", "/"}, {"target", "/h"}}}}}), "");
}

TEST_F(ClientHostPathsTest, AnAllowedDirectoryMustExistAndBeAbsolute) {
  EXPECT_THROW(ClientHostPaths({path("missing")}), FieldError);
  try {
    ClientHostPaths({"relative"});
    FAIL() << "a relative directory was taken";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "--allow-host-path");
  }
}

// open_file() checks the file it opened, not the path it was given: a symlink swapped in after
// check_path(), as the last component or as a directory on the way, does not lead out.
TEST_F(ClientHostPathsTest, OpenFileChecksTheFileItOpened) {
  const ClientHostPaths paths({path("allowed")});
  std::ofstream(path("allowed/rootfs/data")) << "inside";
  std::ofstream(path("secret/data")) << "outside";
  const auto all_read = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
  fs::permissions(path("allowed/rootfs/data"), all_read);  // whatever the umask
  fs::permissions(path("secret/data"), all_read);
  for (const char* dir : {"allowed", "allowed/rootfs", "secret"})
    fs::permissions(path(dir), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  fs::create_symlink(root_ / "secret" / "data", root_ / "allowed" / "data-link");
  std::string why;
  UniqueFd inside = paths.open_file(path("allowed/rootfs/data"), why);
  EXPECT_TRUE(inside) << why;
  EXPECT_FALSE(paths.open_file(path("allowed/data-link"), why));
  EXPECT_EQ(why, "is a symlink");
  EXPECT_FALSE(paths.open_file(path("allowed/link/data"), why));  // "link" -> secret/
  EXPECT_EQ(why, "leads out of the directories a client's job may name");
  EXPECT_FALSE(paths.open_file(path("allowed/rootfs"), why));
  EXPECT_EQ(why, "is not a regular file");
  const ClientHostPaths everywhere({"/"});
  EXPECT_FALSE(everywhere.open_file("/dev/null", why));  // not even opened for reading
  EXPECT_EQ(why, "is not a regular file");
  // A file every user may read, in a directory not every user may enter: not for clients either.
  fs::permissions(path("allowed/rootfs"), fs::perms::owner_all);
  EXPECT_FALSE(paths.open_file(path("allowed/rootfs/data"), why));
  EXPECT_EQ(why, "is in a directory not every user of the host may enter (\"" + path("allowed/rootfs") + "\")");
  fs::permissions(path("allowed/rootfs"), fs::perms::owner_all | fs::perms::others_exec);
  EXPECT_TRUE(paths.open_file(path("allowed/rootfs/data"), why)) << why;
  fs::permissions(path("allowed/rootfs/data"), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(paths.open_file(path("allowed/rootfs/data"), why));
  EXPECT_EQ(why, "is not readable by every user of the host");
}

}  // namespace
}  // namespace cellblock
