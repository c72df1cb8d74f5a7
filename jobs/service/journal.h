// The service's journal: what `cellblock serve` keeps on disk so that nothing it accepted is lost
// when it dies (docs/api.md, "Nothing lost"). Below the state directory, beside the executor's
// own state (executor/supervisor_state.h), which it never touches:
//
//   <state_dir>/service/
//     lock               flock()ed by the live service: one service per state directory
//     log/               the segments below
//     log/<seq>.log      the write-ahead log (write_ahead_log.h), one JSON line per event since
//                        the last checkpoint: a job accepted ("accept", with its record), an
//                        attempt started ("start"), a result ("result", with the job's record),
//                        a result expired or a job withdrawn ("forget", "withdraw")
//     jobs/<id>.json     an accepted job not yet done, as of the last checkpoint:
//                        {"id", "submitted_ms", "job", "client"?: the host-path fields the
//                        client sent, checked again when a restarted service queues it}
//     jobs/<id>.started  the attempt that had started last ("1", "2", ...), as of then
//     results/<id>.json  a finished job's record with its result, for --keep-results, as of then
//
// Between checkpoints a job is only in the log: it is accepted, started and finished by three
// appends to one file, and answered after one fdatasync of it that writes data blocks only (a
// group commit: accepts waiting together share it). A write survives the death of the service at
// once, and the fdatasync makes the accepts before it survive the machine. A checkpoint, when a
// segment is full, after every load and at a clean stop, writes the files from what the log has
// said since the last one (jobs still pending and their starts; results, whose job files go),
// syncs the file system and empties the log. So a short job never has a file: before, each one
// wrote three and removed three, metadata work on the writer's thread beside every launch.
//
// After a crash the next service reads it all back (load()): the files, and the log over them;
// results are kept until they expire, and every job without a result is queued again; one that
// had started runs again as the next attempt. Writing happens on a thread of its own, in order, so
// the io thread never waits for a disk; each call's completion is posted back to the io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <functional>
#include <map>
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
  // Writes each job durably (in the log, synced), then posts `done` to the io thread
  // (with an error text, empty when all is on disk; on an error none of the jobs is kept).
  // Accepts that wait for the writer together share one sync (group commit).
  void accept(std::vector<JobEntry> jobs, std::function<void(std::string error)> done);
  // The attempt `attempt` of job `id` has started.
  void started(const std::string& id, unsigned attempt);
  // The job is done: its record with the result replaces the job.
  void finished(const std::string& id, nlohmann::json record);
  // A result has expired, or a job was withdrawn: every trace of `id` goes.
  void forget(const std::string& id);
  // Blocks until everything handed over so far is written out as files and the log is empty (a
  // checkpoint): what a clean stop leaves. Before load() has succeeded (a start that failed) it
  // only syncs the log: segments nobody has read must stay for the next start. When the
  // checkpoint fails, the log is synced and stays; what could not be appended to it is lost.
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
  // Reads what a previous service left (call before accepting anything). Throws when a file
  // cannot be written: the log then stays as it was.
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
  // What the log has said since the last checkpoint that the files do not say yet (writer
  // thread): write_files() writes it out at the next checkpoint.
  struct Unfiled {
    std::map<std::string, nlohmann::json> jobs;     // accepted, no result yet
    std::map<std::string, unsigned> starts;         // the attempt that started last, of jobs without a result
    std::map<std::string, nlohmann::json> results;  // finished: the record with its result
  } unfiled_;
  void write_files();
  std::atomic<size_t> accepts_posted_{0};  // posted, not yet started by the writer
  std::atomic<bool> loaded_{false};          // load() succeeded: a checkpoint may empty the log
  void sync_accepted();
  void withdraw_files(const std::vector<std::string>& ids);  // used on the writer thread (and by load(), before it starts)
  boost::asio::thread_pool writer_{1};
};

}  // namespace cellblock::service
