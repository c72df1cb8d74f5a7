// The journal's write-ahead log (journal.h): what makes an accepted job survive the machine, not
// only the service, for one fdatasync of a file whose blocks already exist.
//
// Why: files (jobs/<id>.json, results/<id>.json) survive a kill -9 once written, but surviving a
// power cut took an fsync of the file and of its directory per job: two ext4 journal commits,
// 2-3 ms on a busy disk, which also hold up every other metadata change on that file system
// meanwhile (the executor's own state files of the job that is starting). Instead, each record is
// written into a segment that was filled with zeros and fsync'd when it was made, so an
// fdatasync of it writes data blocks only: no block allocation, no ext4 journal commit.
//
//   <dir>/<seq>.log   16 hex digits, in order; records are JSON lines, the rest of the file zeros
//
// A checkpoint has the owner write out as files what only the log holds (before_checkpoint),
// makes the files durable (syncfs of their file system), then removes every segment: the log
// only ever holds what happened since the last checkpoint, which is taken when a segment is full,
// after every load and at a clean stop. A record cut short by a crash (never acknowledged: the
// client hears nothing before sync() returns) is the last line of its segment and is dropped
// when read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"

namespace cellblock::service {

class WriteAheadLog {
 public:
  // `dir` (made 0700 when missing); `fs_fd`: a directory on the file system whose files the
  // checkpoint makes durable. Throws SysError.
  WriteAheadLog(const std::string& dir, int fs_fd, size_t segment_bytes = 4u << 20);

  struct Contents {
    std::vector<nlohmann::json> records;  // every whole record of every segment, in order
    std::vector<std::string> problems;    // a segment that could not be read, or a bad record
  };
  Contents read() const;

  // Writes `record` (a JSON object, one line) after the last one; starts a segment when there is
  // none or the record does not fit (a checkpoint first). Not durable before sync(). Throws.
  void append(const nlohmann::json& record);
  // Everything appended so far is on disk once this returns (fdatasync). Throws SysError.
  void sync();
  // The owner's part of a checkpoint, run first: write out as files what only the log holds. When
  // it throws, the checkpoint stops there and the segments stay.
  void before_checkpoint(std::function<void()> write_files) { write_files_ = std::move(write_files); }
  // The segment synced, the files written (before_checkpoint), syncfs of their file system, then
  // every segment goes; the next append starts a new one.
  void checkpoint();

  const std::string& dir() const { return dir_; }

 private:
  void start_segment(size_t at_least);

  std::string dir_;
  int fs_fd_;
  size_t segment_bytes_;
  UniqueFd dir_fd_;
  UniqueFd segment_;
  uint64_t next_seq_ = 1;
  size_t size_ = 0, used_ = 0;
  bool unsynced_ = false;
  std::function<void()> write_files_;
};

}  // namespace cellblock::service
