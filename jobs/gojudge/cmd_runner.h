// One go-judge cmd from request to result (docs/go-judge.md, "How a cmd runs"):
//   prepare_cmd: the native job (cmd_job.h) and the contents of its input files, so that a bad
//                request is refused before anything of it runs;
//   start_cmd:   (start_cmds_together for cmds joined by pipes) a private working directory (work_dir.h) with the copyIn files, the job on the
//                service's shared queue with that directory at /w, then stdout/stderr and the
//                copyOut/copyOutCached files collected into a go-judge result (run_result.h),
//                and the directory removed.
// Everything here runs on the service's io thread.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/format/job_json.h"
#include "jobs/gojudge/run_request.h"
#include "jobs/gojudge/run_result.h"
#include "jobs/service/file_store.h"
#include "jobs/service/service_context.h"

namespace cellblock::gojudge {

// Unmounts working directories on a thread of its own, after the client has its answer: an
// unmount waits for the kernel's RCU grace period (umount2 took about 3 ms here, its mount
// 0.04 ms), which on the io thread held up the answer and every other request meanwhile. Joined
// (every directory unmounted) before the service goes.
struct Unmounter {
  boost::asio::thread_pool pool{1};
  ~Unmounter() { pool.join(); }
};

// What the go-judge routes share for the life of the service.
struct GoJudge {
  service::ServiceContext& ctx;
  service::FileStore& store;  // the service's (ServiceContext::files), shared with /v1
  std::string work_root;  // <state_dir>/gojudge/work: the working directories' mount points
  uint64_t next_work = 0;  // names the working directories
  uint64_t next_job = 0;   // names the jobs: "gojudge-<n>"
  bool leftovers_removed = false;
  std::unique_ptr<Unmounter> unmounter = std::make_unique<Unmounter>();
};

struct PreparedCmd {
  RunCmd cmd;
  JobRequest job;                              // without the working directory yet
  std::map<std::string, std::string> copy_in;  // path -> content, fileIds resolved
  std::optional<FileError> missing_file;       // a fileId not in the store, a src unreadable: File Error, not run
};

// Throws FieldError (the request is answered 400).
// What the input files of one request may still take together, copied in memory before its cmds
// run: {"src"} files up to --max-body (what the request could have carried inline), fileIds up
// to the file store's size.
struct InputBudget {
  uint64_t src_bytes = 0;
  uint64_t stored_bytes = 0;
  static InputBudget of(const GoJudge& gj);
};

PreparedCmd prepare_cmd(GoJudge& gj, RunCmd cmd, const std::string& field, InputBudget& budget);
// Calls `done` exactly once, on the io thread.
void start_cmd(GoJudge& gj, PreparedCmd prepared, std::function<void(RunResult)> done);
// The cmds of a request joined by pipes (cmd_pipes.h): queued together, so that they start at
// the same time or not at all. A cmd that fails before it runs (a File Error) is left out and
// its pipe ends close, so its peers see end-of-file. `done[i]` as start_cmd's, for cmd i.
void start_cmds_together(GoJudge& gj, std::vector<PreparedCmd> prepared, std::vector<std::function<void(RunResult)>> done);

}  // namespace cellblock::gojudge
