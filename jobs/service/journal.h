// The service's journal: what `cellblock serve` keeps on disk so that nothing it accepted is lost
// when it dies (docs/api.md, "Nothing lost"). Below the state directory, beside the executor's
// own state (executor/supervisor_state.h), which it never touches:
//
//   <state_dir>/service/
//     lock               flock()ed by the live service: one service per state directory
//     jobs/<id>.json     an accepted job not yet done: {"id", "submitted_at", "job"}; written
//                        (temporary file, rename) before the client hears 202
//     jobs/<id>.started  the attempt that started last ("1", "2", ...); written when it starts
//     results/<id>.json  a finished job's record with its result, for --keep-results; written
//                        (temporary file, rename) before jobs/<id>.* is removed
//     log/<seq>.log      the write-ahead log (write_ahead_log.h): each accepted job and each
//                        result since the last checkpoint, one JSON line each
//
// The files survive the death of the service as soon as they are written. Surviving a crash of
// the machine is the log's part: an accept is answered only after the log's fdatasync, which
// writes data blocks only (no fsync of each file and its directory, two ext4 journal commits a
// job). A checkpoint (syncfs) makes the files durable and empties the log when a segment is full
// and after every load. A start is not in the log: it survives the service, not the machine.
//
// After a crash the next service reads it all back (load()): the log stands in for any file the
// machine lost; results are kept until they expire, and every job without a result is queued
// again; one that had started runs again as the next attempt. Writing happens on a thread of its
// own, in order, so the io thread never waits for a disk; each call's completion is posted back
// to the io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "jobs/service/write_ahead_log.h"

namespace cellblock::service {

class Journal {
 public:
  // Creates <state_dir>/service/{jobs,results} (0700) and takes the lock; throws
  // std::runtime_error when another service holds it.
  Journal(const std::string& state_dir, boost::asio::io_context& io);
  ~Journal();  // finishes what was handed to it
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  struct JobEntry {
    std::string id;
    nlohmann::json record;  // {"id", "submitted_at", "job"}
  };
  // Writes each job durably (its file, and the log synced), then posts `done` to the io thread
  // (with an error text, empty when all is on disk; on an error none of the jobs is kept).
  // Accepts that wait for the writer together share one sync (group commit).
  void accept(std::vector<JobEntry> jobs, std::function<void(std::string error)> done);
  // The attempt `attempt` of job `id` has started.
  void started(const std::string& id, unsigned attempt);
  // The job is done: its record with the result replaces its job file.
  void finished(const std::string& id, nlohmann::json record);
  // A result has expired, or a job was withdrawn: every file of `id` goes.
  void forget(const std::string& id);
  // Blocks until everything handed over so far is written and the log synced.
  void flush();

  struct Loaded {
    std::vector<nlohmann::json> results;  // records of finished jobs
    struct Pending {
      nlohmann::json record;
      unsigned last_attempt = 0;  // the attempt that had started; 0: it never started
    };
    std::vector<Pending> jobs;         // accepted, without a result; in id order
    std::vector<std::string> problems;  // files that could not be read, named with the reason
  };
  // Reads what a previous service left (call before accepting anything).
  Loaded load();

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  boost::asio::io_context& io_;
  UniqueFd lock_;
  UniqueFd jobs_dir_, results_dir_;
  std::optional<WriteAheadLog> log_;
  // Accepts written but not yet synced (writer thread): one fdatasync answers them all, taken by
  // the last accept of those that were waiting for the writer at once.
  struct Unsynced {
    std::vector<std::string> ids;
    std::function<void(std::string error)> done;
  };
  std::vector<Unsynced> unsynced_;
  std::atomic<size_t> accepts_posted_{0};  // posted, not yet started by the writer
  void sync_accepted();
  void withdraw_files(const std::vector<std::string>& ids);  // used on the writer thread (and by load(), before it starts)
  boost::asio::thread_pool writer_{1};
};

}  // namespace cellblock::service
