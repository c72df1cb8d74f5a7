// Results a worker finished while Redis was away, kept on disk until they are written, so that
// neither an outage nor the worker's own death (kill -9, a crash, a reboot) loses them:
//
//   <state_dir>/worker-spool/<host>_<port>_<db>_<queue>/   one per Redis and queue
//     <worker name>/                                      one per worker process
//       lock                    flock()ed by the worker while it lives
//       00000000000000000001.json   {"stream", "entry", "id", "job", "deliveries", "result",
//       00000000000000000002.json    "dead_reason"?}: a result not yet written, in the order the
//       ...                          jobs finished; written (temporary file, fsync, rename, fsync
//                                    of the directory) before the worker goes on
//
// A worker takes over, at its start, the spools of the same Redis and queue whose lock is free
// (their workers are dead: a restarted worker is a new consumer with a new name): it renames
// their results into its own spool, after its own and in their order, and delivers them first.
// Names are percent-encoded (everything but [A-Za-z0-9_-]), so any worker or queue name is one
// path component.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "jobs/dispatch/job_stream.h"

namespace cellblock {

struct SpooledResult {
  Finished finished;
  std::string file;  // its name in the spool
};

class ResultSpool {
 public:
  // `root`: <state_dir>/worker-spool/<host>_<port>_<db>_<queue> (spool_root() makes the name).
  // Makes the worker's spool `owner` there and locks it, then takes over the dead workers'
  // spools beside it. Throws SysError, or std::runtime_error when a live worker holds `owner`'s
  // lock (two workers with the same --name on one state directory).
  ResultSpool(const std::filesystem::path& root, const std::string& owner);
  ResultSpool(const ResultSpool&) = delete;
  ResultSpool& operator=(const ResultSpool&) = delete;

  // What the spool holds, oldest first (read at start: earlier runs' results). A file that does
  // not parse is logged and left where it is. Throws SysError.
  std::vector<SpooledResult> load();
  // Writes one result durably; returns its file name. Throws SysError (disk full, ...).
  std::string put(const Finished& finished);
  // The result is written to Redis: its file goes. Throws SysError.
  void remove(const std::string& file);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  void adopt(const std::string& name);  // a dead worker's spool beside ours
  std::string next_name();

  std::filesystem::path root_;
  std::filesystem::path dir_;
  UniqueFd root_fd_;
  UniqueFd dir_fd_;
  UniqueFd lock_;
  unsigned long long next_ = 1;
};

// <state_dir>/worker-spool/<host>_<port>_<db>_<queue>, each part percent-encoded.
std::filesystem::path spool_root(const std::string& state_dir, const std::string& host, int port, int db,
                                 const std::string& queue);
// `name` as one path component: every byte but [A-Za-z0-9_-] as %XX.
std::string path_component(const std::string& name);

}  // namespace cellblock
