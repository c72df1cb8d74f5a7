// The jobs of the native API (/v1): each accepted job's record from 202 to the expiry of its
// result, journaled so that none is lost (journal.h), waited on by long polls, followed by
// output streams, listed by pages. Everything here runs on the io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jobs/format/client_host_paths.h"
#include "jobs/format/job_json.h"
#include "jobs/service/file_store.h"
#include "jobs/service/journal.h"
#include "jobs/service/live_output.h"
#include "jobs/service/shared_queue.h"

namespace cellblock {
class PolicyRegistry;
}

namespace cellblock::service {

class ImageJobs;

enum class JobState { queued, running, done };
std::string_view to_string(JobState s);
std::optional<JobState> job_state_from_string(std::string_view s);

struct JobRecord {
  std::string id;            // the service's id: 16 hex digits, in the order jobs were accepted
  JobState state = JobState::queued;
  unsigned attempt = 1;      // 2 and on: re-run after the service died while it ran
  int64_t submitted_ms = 0;  // Unix time
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  nlohmann::json job;        // as accepted: defaults merged, host paths absolute
  nlohmann::json client_fields;  // the host-path fields the client sent (JobRequest::client_fields); null: unknown
  std::string job_id;        // the job's own "id" (the result's "id"); the service's id when it had none
  std::optional<nlohmann::json> result;  // the result JSON (jobs/format/result_json.h), once done
  uint64_t queue_id = 0;
  std::shared_ptr<LiveOutput> output;    // while queued or running
};

// The record as the API shows it: {"id", "state", "attempt", "submitted_at", "started_at"?,
// "finished_at"?, "result"?}; `summary` leaves out the job and the result's output.
nlohmann::json record_json(const JobRecord& r, bool summary = false);

class JobStore {
 public:
  // `files`: where collected files with "keep" go (file_store.h).
  JobStore(SharedQueue& queue, Journal& journal, FileStore& files, std::chrono::milliseconds keep_results);
  ~JobStore();

  // Reads the journal of a previous service: results are kept; jobs are queued again, those
  // that had started as their next attempt (an image job's image resolved again by `images`).
  // Returns how many jobs were queued; logs at warn.
  // A job's host-path fields are checked again against `client_paths`, the directories this
  // service allows: one it no longer allows ends as invalid_job, and nothing of it runs.
  // `defaults`: the service's --defaults, for records of an older service, which kept only the
  // merged job.
  size_t recover(PolicyRegistry& policies, const ImageJobs& images, const ClientHostPaths& client_paths,
                 const nlohmann::json& defaults);

  // Jobs parsed and prepared by the caller (job_json.h: request_from_json, prepare_job). Queues
  // them at once and journals them all as they will run (job_to_json: defaults merged), then
  // calls `done` with their ids in order once they are on disk (or with an error text when the
  // journal could not write them: then they are cancelled and forgotten, as never accepted). A
  // job without an "id" gets the service's id as its own.
  void submit(std::vector<JobRequest> jobs, std::function<void(std::vector<std::string> ids, std::string error)> done);

  const JobRecord* find(const std::string& id) const;
  // Calls `then` once: with the record when it is done (at once if it is), or when `timeout`
  // passes (the record as it is then). Unknown id: `then(nullptr)` at once.
  void wait(const std::string& id, std::chrono::milliseconds timeout, std::function<void(const JobRecord*)> then);
  // Cancels a queued or running job (its result will be `cancelled`). False if it is not
  // queued or running.
  bool cancel(const std::string& id);
  // Follows the job's output; false when the job is done (its output is in the result).
  bool follow_output(const std::string& id, ResponderPtr responder, OutputFilter filter);
  // Up to `limit` records after id `after` (in id order), in `state` if given; `more`: others follow.
  std::vector<const JobRecord*> page(std::optional<JobState> state, size_t limit, const std::string& after, bool& more) const;
  // Counts by state.
  std::map<JobState, size_t> counts() const;
  // From now on a job that ends as `cancelled` without a DELETE (the shutdown stopped it) keeps
  // its journal entry instead of a result: the next service runs it again.
  void shutting_down() { shutting_down_ = true; }

 private:
  struct Waiter;
  std::string next_id();
  void enqueue(JobRecord& record, JobRequest request);
  // A job the journal could not write: cancelled if it has not ended, and forgotten.
  void withdraw(const std::string& id);
  void finished(const std::string& id, Result& result);
  void wake(const std::string& id);  // calls the id's waiters with its record
  void keep_files(const JobRecord& r, Result& result);
  void sweep();

  SharedQueue& queue_;
  Journal& journal_;
  FileStore& files_;
  std::chrono::milliseconds keep_;
  std::map<std::string, JobRecord> records_;
  std::multimap<std::string, std::shared_ptr<Waiter>> waiters_;
  boost::asio::steady_timer sweeper_;
  uint64_t last_id_ = 0;
  bool shutting_down_ = false;
  std::set<std::string> deleted_;  // cancelled by DELETE, not by the shutdown
  std::set<std::string> withdrawn_;  // cancelled because the journal could not write them
};

}  // namespace cellblock::service
