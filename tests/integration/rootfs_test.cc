// The rootfs is a read-only overlay lower layer; writes vanish with the job; pivot_root; the
// cell's own /proc, a minimal /dev, a fresh /tmp; bind mounts (issue: cell, item 2).
#include <sys/stat.h>

#include <filesystem>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Every path, type, mode, size and content under `dir`: a byte-for-byte fingerprint.
std::string fingerprint(const fs::path& dir) {
  std::string out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st;
    lstat(it->path().c_str(), &st);
    out += it->path().string() + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
           std::to_string(st.st_mtime) + "\n";
    if (S_ISREG(st.st_mode)) out += read_file(it->path()) + "\n";
    if (S_ISLNK(st.st_mode)) out += fs::read_symlink(it->path()).string() + "\n";
  }
  return out;
}

class Rootfs : public ::testing::Test {
 protected:
  void SetUp() override {
    // A private copy, so other tests running at the same time see the usual rootfs.
    dir_ = fs::temp_directory_path() / ("cellblock-rootfs-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::copy(kRootfs, dir_, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    std::ofstream(dir_ / "etc" / "motd") << "original\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  JobSpec in_copy(const std::string& script) {
    JobSpec j = sh(script);
    j.rootfs = dir_;
    return j;
  }
  fs::path dir_;
};

TEST_F(Rootfs, WritesNeverReachTheRootfsAndVanishWithTheJob) {
  std::string before = fingerprint(dir_);
  Result r = run(in_copy(
      "echo rewritten > /etc/motd && rm /bin/ls && rm -rf /root && mkdir /newdir && echo x > /newdir/f && "
      "chmod 777 /etc && ln -sf /nowhere /bin/cat && cat /etc/motd 2>/dev/null; echo done"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(fingerprint(dir_), before);
  Result next = run(in_copy("cat /etc/motd; ls /newdir 2>&1; ls /bin/ls"));
  EXPECT_EQ(next.stdout_data, "original\nls: /newdir: No such file or directory\n/bin/ls\n") << describe(next);
}

TEST_F(Rootfs, WritableLayerIsCappedAtWritableBytes) {
  JobSpec j = in_copy("dd if=/dev/zero of=/big bs=1M count=64 2>&1; ls -l /big | awk '{print $5}'");
  j.limits.writable_bytes = 4 << 20;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("No space left on device"));
  auto out = lines(r.stdout_data);
  EXPECT_LE(std::stoull(out.back()), 4ull << 20);
}

TEST(Cell, RootIsPivotedAndTheHostTreeIsGone) {
  Result r = run(sh("cut -d' ' -f5 /proc/self/mountinfo"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // Only the cell's own mounts: no host mount survives pivot_root + detach. (/proc has more
  // mounts below it: the masks, checked in security_test.cc.)
  auto mounts = lines(r.stdout_data);
  ASSERT_GE(mounts.size(), 5u);
  EXPECT_EQ(mounts[0], "/");
  EXPECT_EQ(mounts[1], "/proc");
  std::vector<std::string> others;
  for (const std::string& m : mounts)
    if (m != "/" && m != "/proc" && !m.starts_with("/proc/")) others.push_back(m);
  std::vector<std::string> expected = {"/dev", "/dev/shm", "/tmp"};
  EXPECT_EQ(others, expected) << r.stdout_data;
}

TEST(Cell, DevHoldsOnlyTheSafeDevices) {
  Result r = run(sh("cd /dev && for f in *; do if [ -L $f ]; then echo l $f; elif [ -c $f ]; then "
                    "echo c $f $(stat -c '%t:%T' $f); elif [ -b $f ]; then echo b $f; elif [ -d $f ]; then echo d $f; "
                    "else echo other $f; fi; done"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  std::vector<std::string> expected = {"l fd",          "c full 1:7",    "c null 1:3",  "c random 1:8",
                                       "d shm",         "l stderr",      "l stdin",     "l stdout",
                                       "c tty 5:0",     "c urandom 1:9", "c zero 1:5"};
  EXPECT_EQ(lines(r.stdout_data), expected) << r.stdout_data;
  Result io = run(sh("head -c 4 /dev/zero | od -An -tx1; head -c 16 /dev/urandom | wc -c; echo x > /dev/null && echo ok; "
                     "echo x > /dev/full 2>/dev/null || echo full"));
  EXPECT_EQ(io.stdout_data, " 00 00 00 00\n16\nok\nfull\n") << describe(io);
}

TEST(Cell, TmpAndShmAreFreshForEachJob) {
  Result first = run(sh("echo mine > /tmp/left-behind && echo mine > /dev/shm/left && stat -c %a /tmp /dev/shm"));
  ASSERT_EQ(first.status, Status::exited) << describe(first);
  EXPECT_EQ(first.stdout_data, "1777\n1777\n");
  Result second = run(sh("ls -A /tmp /dev/shm"));
  EXPECT_EQ(second.stdout_data, "/dev/shm:\n\n/tmp:\n") << describe(second);
}

TEST(Cell, BindMountsAreReadOnlyOrReadWrite) {
  fs::path host = fs::temp_directory_path() / ("cellblock-bind-" + std::to_string(getpid()));
  fs::create_directories(host / "ro");
  fs::create_directories(host / "rw");
  std::ofstream(host / "ro" / "input") << "input data\n";
  JobSpec j = sh("cat /in/input; echo nope > /in/input 2>&1 || echo ro-refused; echo result > /out/artifact && echo written");
  j.mounts.push_back({(host / "ro").string(), "/in", true});
  j.mounts.push_back({(host / "rw").string(), "/deep/new/out", false});
  j.mounts.push_back({(host / "rw").string(), "/out", false});
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("input data\n"));
  EXPECT_THAT(r.stdout_data, HasSubstr("ro-refused\n"));
  EXPECT_THAT(r.stdout_data, HasSubstr("written\n"));
  EXPECT_EQ(read_file(host / "rw" / "artifact"), "result\n");
  EXPECT_EQ(read_file(host / "ro" / "input"), "input data\n");
  fs::remove_all(host);
}

TEST(Cell, ReadOnlyBindIsReadOnlyRecursively) {
  // A read-only bind of a tree with a mount inside it must not leave that inner mount writable.
  fs::path host = fs::temp_directory_path() / ("cellblock-rec-" + std::to_string(getpid()));
  fs::create_directories(host);
  JobSpec j = sh("touch /host/run/cellblock-probe 2>&1 || echo refused");
  j.mounts.push_back({"/", "/host", true});
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("refused"));
  EXPECT_FALSE(fs::exists("/run/cellblock-probe"));
  fs::remove_all(host);
}

TEST(Cell, MountTargetThroughASymlinkStaysInsideTheRoot) {
  // A rootfs symlink pointing at an absolute host path is resolved inside the cell's root.
  fs::path root = fs::temp_directory_path() / ("cellblock-link-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::copy(kRootfs, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_symlink("/etc", root / "escape");
  fs::path src = fs::temp_directory_path() / ("cellblock-linksrc-" + std::to_string(getpid()));
  fs::create_directories(src);
  std::ofstream(src / "marker") << "m\n";
  JobSpec j = sh("ls /etc/marker");
  j.rootfs = root;
  j.mounts.push_back({src.string(), "/escape", true});
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "/etc/marker\n");
  EXPECT_FALSE(fs::exists("/etc/marker"));
  fs::remove_all(root);
  fs::remove_all(src);
}

}  // namespace
}  // namespace cellblock::test
