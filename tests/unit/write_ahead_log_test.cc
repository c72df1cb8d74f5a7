// The journal's write-ahead log (jobs/service/write_ahead_log.h) on a real directory: records
// come back in order across segments, a record cut short by a crash is dropped, and a checkpoint
// leaves no segment behind.
#include "jobs/service/write_ahead_log.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "executor/base/unique_fd.h"

namespace cellblock::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class WriteAheadLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cellblock-wal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs_fd_.reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fs_fd_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> segments() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(root_ + "/log")) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string root_;
  UniqueFd fs_fd_;
};

TEST_F(WriteAheadLogTest, RecordsComeBackInOrderAndTheSegmentIsZeroFilledAhead) {
  WriteAheadLog log(root_ + "/log", fs_fd_.get(), 64 << 10);
  for (int i = 0; i < 3; ++i) log.append({{"op", "accept"}, {"id", std::to_string(i)}, {"text", "line\nbreak"}});
  log.sync();
  ASSERT_THAT(segments(), ::testing::ElementsAre("0000000000000001.log"));
  // The whole segment was written when it was made: fdatasync then has no block to allocate.
  EXPECT_EQ(fs::file_size(root_ + "/log/0000000000000001.log"), 64u << 10);
  WriteAheadLog::Contents c = WriteAheadLog(root_ + "/log", fs_fd_.get()).read();
  EXPECT_THAT(c.problems, ::testing::IsEmpty());
  ASSERT_EQ(c.records.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.records[i]["id"], std::to_string(i));
    EXPECT_EQ(c.records[i]["text"], "line\nbreak");
  }
}

TEST_F(WriteAheadLogTest, AFullSegmentIsCheckpointedAndANewOneStarted) {
  WriteAheadLog log(root_ + "/log", fs_fd_.get(), 4096);
  const std::string big(3000, 'x');
  log.append({{"n", 1}, {"pad", big}});
  log.append({{"n", 2}, {"pad", big}});  // does not fit: checkpoint, then a segment of its own
  EXPECT_THAT(segments(), ::testing::ElementsAre("0000000000000002.log"));
  log.append({{"n", 3}, {"pad", std::string(10000, 'y')}});  // bigger than a segment: one as big as it
  ASSERT_THAT(segments(), ::testing::ElementsAre("0000000000000003.log"));
  EXPECT_EQ(fs::file_size(root_ + "/log/0000000000000003.log"), 12288u);
  WriteAheadLog::Contents c = log.read();
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0]["n"], 3);
  log.checkpoint();
  EXPECT_THAT(segments(), ::testing::IsEmpty());
  // A log opened later goes on numbering after what it finds.
  log.append({{"n", 4}});
  WriteAheadLog later(root_ + "/log", fs_fd_.get(), 4096);
  later.append({{"n", 5}});
  EXPECT_THAT(segments(), ::testing::ElementsAre("0000000000000004.log", "0000000000000005.log"));
  c = later.read();
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0]["n"], 4);
  EXPECT_EQ(c.records[1]["n"], 5);
}

TEST_F(WriteAheadLogTest, ARecordCutShortByACrashIsDroppedAndABadOneInTheMiddleIsNamed) {
  {
    WriteAheadLog log(root_ + "/log", fs_fd_.get(), 4096);
    log.append({{"n", 1}});
    log.sync();
  }
  // The crash: the next record's first bytes reached the disk, the rest did not.
  const std::string segment = root_ + "/log/0000000000000001.log";
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::string(R"({"n":1})").size() + 1));
    f << R"({"n":2,"jo)";
  }
  WriteAheadLog::Contents c = WriteAheadLog(root_ + "/log", fs_fd_.get()).read();
  EXPECT_THAT(c.problems, ::testing::IsEmpty());
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0]["n"], 1);

  // Garbage followed by a whole record is no crash: it is reported, with where it is.
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::string(R"({"n":1})").size() + 1));
    f << "garbage\n" << R"({"n":3})" << "\n";
  }
  c = WriteAheadLog(root_ + "/log", fs_fd_.get()).read();
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1]["n"], 3);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_THAT(c.problems[0], ::testing::HasSubstr("0000000000000001.log at byte 8"));
}

}  // namespace
}  // namespace cellblock::service
