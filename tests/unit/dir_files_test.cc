// Files in a state directory are written whole or not at all (executor/base/dir_files.h), and a
// write that fails leaves nothing behind, not even its temporary file.
#include "executor/base/dir_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "executor/base/unique_fd.h"

namespace cellblock {
namespace {

class DirFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/cellblock-dir-files-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    path_ = name;
    dir_.reset(::open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(path_); }

  std::string path_;
  UniqueFd dir_;
};

TEST_F(DirFilesTest, AFileIsWrittenWholeUnderItsNameAndReadBack) {
  write_file_at(dir_.get(), "a.json", "{\"x\": 1}\n", false);
  write_file_at(dir_.get(), "a.json", "{\"x\": 2}\n", true);
  EXPECT_EQ(read_file_at(dir_.get(), "a.json"), "{\"x\": 2}\n");
  EXPECT_EQ(names_in(dir_.get(), /*dot_files=*/true), std::vector<std::string>{"a.json"});
}

// The write fails half-way: RLIMIT_FSIZE (in a child, so the test runner keeps its own limit)
// lets 100 bytes of 4096 through, then write() says EFBIG.
TEST_F(DirFilesTest, AWriteThatFailsLeavesNoTemporaryFileBehind) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit small{100, 100};
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(2);
    try {
      write_file_at(dir_.get(), "big.json", std::string(4096, 'x'), false);
    } catch (const std::exception&) {
      ::_exit(0);
    }
    ::_exit(1);  // the write was expected to fail
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "1: the write did not fail; 2: setrlimit failed";
  EXPECT_TRUE(names_in(dir_.get(), /*dot_files=*/true).empty());
}

}  // namespace
}  // namespace cellblock
