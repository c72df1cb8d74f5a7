#include "jobs/service/job_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "jobs/format/policy_json.h"
#include "jobs/format/result_json.h"
#include "jobs/format/wall_time.h"
#include "jobs/service/image_jobs.h"

namespace cellblock::service {
namespace {

using nlohmann::json;

// What the journal keeps of a record: everything, times as numbers.
json journal_json(const JobRecord& r) {
  json j{{"id", r.id},         {"attempt", r.attempt},         {"job_id", r.job_id},
         {"job", r.job},       {"submitted_ms", r.submitted_ms}, {"started_ms", r.started_ms},
         {"finished_ms", r.finished_ms}};
  if (r.result) j["result"] = *r.result;
  return j;
}

JobRecord record_from_journal(const json& j) {
  JobRecord r;
  r.id = j.at("id").get<std::string>();
  r.attempt = j.value("attempt", 1u);
  r.job = j.at("job");
  if (j.contains("client")) r.client_fields = j["client"];  // else null: journaled by an older service
  r.job_id = j.value("job_id", r.id);
  r.submitted_ms = j.value("submitted_ms", int64_t{0});
  r.started_ms = j.value("started_ms", int64_t{0});
  r.finished_ms = j.value("finished_ms", int64_t{0});
  if (j.contains("result")) {
    r.result = j["result"];
    r.state = JobState::done;
  }
  return r;
}

}  // namespace

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
  }
  return "?";
}

std::optional<JobState> job_state_from_string(std::string_view s) {
  for (JobState st : {JobState::queued, JobState::running, JobState::done})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

json record_json(const JobRecord& r, bool summary) {
  json j{{"id", r.id}, {"state", std::string(to_string(r.state))}, {"attempt", r.attempt}, {"job_id", r.job_id},
         {"submitted_at", iso_time(r.submitted_ms)}};
  if (r.started_ms) j["started_at"] = iso_time(r.started_ms);
  if (r.finished_ms) j["finished_at"] = iso_time(r.finished_ms);
  if (r.result) {
    if (summary) {
      j["status"] = (*r.result)["status"];
      j["exit_code"] = (*r.result)["exit_code"];
    } else {
      j["result"] = *r.result;
    }
  }
  return j;
}

struct JobStore::Waiter {
  explicit Waiter(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  std::function<void(const JobRecord*)> then;
  bool fired = false;
};

JobStore::JobStore(SharedQueue& queue, Journal& journal, FileStore& files, std::chrono::milliseconds keep)
    : queue_(queue), journal_(journal), files_(files), keep_(keep), sweeper_(queue.io()) {
  sweep();
}

JobStore::~JobStore() { sweeper_.cancel(); }

std::string JobStore::next_id() {
  // Nanoseconds since the epoch, strictly increasing: ids sort in the order jobs were accepted,
  // also across restarts, which is what `after=` pages by.
  const auto now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  last_id_ = std::max(last_id_ + 1, now);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(last_id_));
  return buf;
}

void JobStore::submit(std::vector<JobRequest> jobs, std::function<void(std::vector<std::string>, std::string)> done) {
  std::vector<Journal::JobEntry> entries;
  std::vector<std::string> ids;
  const int64_t now = unix_ms();
  for (JobRequest& request : jobs) {
    JobRecord r;
    r.id = next_id();
    if (request.job.id.empty()) request.job.id = r.id;
    r.job_id = request.job.id;
    r.submitted_ms = now;
    // The job as it will run, defaults merged: a restart runs the same job whatever its
    // --defaults say then.
    r.job = job_to_json(request.job);
    r.job["priority"] = request.priority;
    if (request.queue_timeout_ms) r.job["queue_timeout_ms"] = *request.queue_timeout_ms;
    r.client_fields = std::move(request.client_fields);
    if (r.client_fields.is_null()) r.client_fields = json::object();
    // "client" always: a record without it is an older service's (recover()).
    json entry{{"id", r.id}, {"submitted_ms", r.submitted_ms}, {"job", r.job}, {"client", r.client_fields}};
    entries.push_back({r.id, std::move(entry)});
    ids.push_back(r.id);
    JobRecord& kept = records_[r.id] = std::move(r);
    // Queued now, while the journal writes it: the disk's fsyncs overlap the job's run instead of
    // adding to it. The client still hears nothing before its jobs are on disk (`done` runs
    // after the journal), and the journal's writes are in order, so a start or a result of
    // these jobs always comes after the job itself.
    enqueue(kept, std::move(request));
  }
  journal_.accept(std::move(entries), [this, ids, done = std::move(done)](std::string error) {
    if (error.empty()) return done(ids, "");
    // Not on disk, so not accepted: the client hears 500, and the jobs go as if never submitted.
    for (const std::string& id : ids) withdraw(id);
    done({}, "the job could not be journaled: " + error);
  });
}

void JobStore::withdraw(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  if (it->second.state == JobState::done) {
    journal_.forget(id);
    records_.erase(it);
    return;
  }
  // finished() drops it when its cancelled result comes.
  withdrawn_.insert(id);
  queue_.cancel(it->second.queue_id, "not accepted: the journal could not write the job");
}

void JobStore::enqueue(JobRecord& record, JobRequest request) {
  record.output = std::make_shared<LiveOutput>(queue_.io());
  SharedQueue::Hooks hooks;
  hooks.output = record.output;
  hooks.on_started = [this, id = record.id] {
    auto it = records_.find(id);
    if (it == records_.end()) return;
    it->second.state = JobState::running;
    it->second.started_ms = unix_ms();
    journal_.started(id, it->second.attempt);
  };
  record.queue_id = queue_.run(std::move(request), [this, id = record.id](Result& r) { finished(id, r); }, std::move(hooks));
}

void JobStore::finished(const std::string& id, Result& result) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  JobRecord& r = it->second;
  if (withdrawn_.erase(id)) {
    // submit(): the journal could not write it, so it was never accepted: nothing of it stays.
    deleted_.erase(id);
    if (r.output) r.output->close();
    r.output.reset();
    journal_.forget(id);
    records_.erase(it);
    wake(id);
    return;
  }
  if (shutting_down_ && result.status == Status::cancelled && !deleted_.count(id)) {
    // Stopped by the shutdown, not by a client: no result; the journal keeps the job and the
    // next service runs it again (as its next attempt if it had started).
    if (r.output) r.output->close();
    r.output.reset();
    wake(id);
    return;
  }
  deleted_.erase(id);
  r.state = JobState::done;
  r.finished_ms = unix_ms();
  keep_files(r, result);
  r.result = result_to_json(result);
  (*r.result)["attempt"] = r.attempt;
  if (r.output) {
    r.output->close();
    r.output.reset();
  }
  // Waiters first, then the journal: building the journal's record and waking its thread before
  // the answer went out cost each answer about 60 us on a machine of this kind. Durability is the
  // same either way: a result is not synced on its own (Journal::finished), so an answer could
  // always go out before its result was on disk. The record is looked up again, not used through
  // `r`: the waiters' callbacks are route code, run before this line.
  wake(id);
  if (const JobRecord* done = find(id)) journal_.finished(id, journal_json(*done));
}

// Collected files the job asked to keep go to the file store, and the result names their ids. A
// store that is full, or a disk that fails, is that file's error: the job's result stands.
void JobStore::keep_files(const JobRecord& r, Result& result) {
  if (result.collected.empty() || !r.job.contains("collect")) return;
  std::set<std::string> kept;
  for (const json& c : r.job["collect"])
    if (c.value("keep", false)) kept.insert(c.value("path", ""));
  for (CollectedFile& f : result.collected) {
    if (!kept.count(f.path) || f.read.outcome != FileRead::ok) continue;
    const uint64_t bytes = f.read.content.size();
    std::optional<std::string> file_id;
    try {
      file_id = files_.add(std::filesystem::path(f.path).filename(), std::move(f.read.content));
    } catch (const std::exception& e) {
      f.read = {FileRead::failed, "", std::string("keeping it in the file store: ") + e.what()};
      continue;
    }
    if (!file_id) {
      f.read = {FileRead::failed, "", files_.full_message()};
      continue;
    }
    f.file_id = *file_id;
    f.file_bytes = bytes;
    f.read.content.clear();
  }
}

void JobStore::wake(const std::string& id) {
  const JobRecord* r = find(id);
  auto [from, to] = waiters_.equal_range(id);
  std::vector<std::shared_ptr<Waiter>> woken;
  for (auto w = from; w != to; ++w) woken.push_back(w->second);
  waiters_.erase(from, to);
  for (auto& w : woken) {
    w->fired = true;
    w->timer.cancel();
    w->then(r);
  }
}

const JobRecord* JobStore::find(const std::string& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

void JobStore::wait(const std::string& id, std::chrono::milliseconds timeout, std::function<void(const JobRecord*)> then) {
  const JobRecord* r = find(id);
  if (!r || r->state == JobState::done || timeout.count() <= 0) return then(r);
  auto w = std::make_shared<Waiter>(queue_.io());
  w->then = std::move(then);
  waiters_.emplace(id, w);
  w->timer.expires_after(timeout);
  w->timer.async_wait([this, id, w](const boost::system::error_code&) {
    if (w->fired) return;
    w->fired = true;
    auto [from, to] = waiters_.equal_range(id);
    for (auto it = from; it != to; ++it)
      if (it->second == w) {
        waiters_.erase(it);
        break;
      }
    w->then(find(id));
  });
}

bool JobStore::cancel(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end() || it->second.state == JobState::done) return false;
  deleted_.insert(id);
  queue_.cancel(it->second.queue_id, "cancelled by DELETE /v1/jobs/" + id);
  return true;
}

bool JobStore::follow_output(const std::string& id, ResponderPtr responder, OutputFilter filter) {
  auto it = records_.find(id);
  if (it == records_.end() || !it->second.output) return false;
  it->second.output->follow(std::move(responder), filter);
  return true;
}

std::vector<const JobRecord*> JobStore::page(std::optional<JobState> state, size_t limit, const std::string& after,
                                             bool& more) const {
  std::vector<const JobRecord*> out;
  more = false;
  for (auto it = after.empty() ? records_.begin() : records_.upper_bound(after); it != records_.end(); ++it) {
    if (state && it->second.state != *state) continue;
    if (out.size() == limit) {
      more = true;
      break;
    }
    out.push_back(&it->second);
  }
  return out;
}

std::map<JobState, size_t> JobStore::counts() const {
  std::map<JobState, size_t> c{{JobState::queued, 0}, {JobState::running, 0}, {JobState::done, 0}};
  for (const auto& [id, r] : records_) ++c[r.state];
  return c;
}

void JobStore::sweep() {
  const int64_t now = unix_ms();
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.state == JobState::done && it->second.finished_ms + keep_.count() < now) {
      journal_.forget(it->first);
      it = records_.erase(it);
    } else {
      ++it;
    }
  }
  sweeper_.expires_after(std::clamp(keep_ / 10, std::chrono::milliseconds(100), std::chrono::milliseconds(60'000)));
  sweeper_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

namespace {

// The defaults in the form the journal keeps a job in (job_to_json: every mount with its
// "readonly", the policy always), so that the operator's own paths compare equal.
json journal_form(const json& defaults) {
  try {
    return job_to_json(job_from_json(json{{"command", {"true"}}}, defaults));
  } catch (const std::exception&) {
    return defaults;  // defaults that make no job alone: compared as written
  }
}

// The host-path fields to check again of a job journaled by a service older than "client": its
// own, less those equal to what the --defaults give (`normal`: journal_form). Whatever the
// defaults set differently (a mount written another way) is checked too: such a job may end
// invalid_job after the upgrade, never run with a path the restarted service does not allow.
json fields_to_recheck(const JobRecord& r, const json& normal) {
  if (!r.client_fields.is_null()) return r.client_fields;
  json fields = ClientHostPaths::named_fields(r.job);
  for (auto it = fields.begin(); it != fields.end();) {
    if (normal.is_object() && normal.contains(it.key()) && normal[it.key()] == it.value()) it = fields.erase(it);
    else ++it;
  }
  return fields;
}

}  // namespace

size_t JobStore::recover(PolicyRegistry& policies, const ImageJobs& images, const ClientHostPaths& client_paths,
                         const json& defaults) {
  Journal::Loaded loaded = journal_.load();
  for (const std::string& p : loaded.problems) spdlog::warn("journal: skipped {}", p);
  const int64_t now = unix_ms();
  for (const json& j : loaded.results) {
    try {
      JobRecord r = record_from_journal(j);
      last_id_ = std::max<uint64_t>(last_id_, std::stoull(r.id, nullptr, 16));
      if (r.finished_ms + keep_.count() < now) journal_.forget(r.id);
      else records_[r.id] = std::move(r);
    } catch (const std::exception& e) {
      spdlog::warn("journal: skipped a result: {}", e.what());
    }
  }
  size_t queued = 0, rerun = 0;
  const json normal_defaults = journal_form(defaults);
  for (const Journal::Loaded::Pending& p : loaded.jobs) {
    JobRecord r;
    try {
      r = record_from_journal(p.record);
      last_id_ = std::max<uint64_t>(last_id_, std::stoull(r.id, nullptr, 16));
    } catch (const std::exception& e) {
      spdlog::warn("journal: skipped a job: {}", e.what());
      continue;
    }
    r.attempt = p.last_attempt + 1;
    if (p.last_attempt) ++rerun;
    JobRecord& rec = records_[r.id] = std::move(r);
    try {
      // Accepted under the --allow-host-path of the service that took it; runs only under ours.
      client_paths.check(fields_to_recheck(rec, normal_defaults));
      JobRequest request = request_from_json(rec.job);
      images.resolve_now(request.job);
      prepare_job(request.job, policies);
      enqueue(rec, std::move(request));
      ++queued;
    } catch (const FieldError& e) {
      // E.g. its policy file is gone: it ends now, with the reason, rather than vanish.
      Result invalid;
      invalid.id = rec.job_id;
      invalid.status = Status::invalid_job;
      invalid.error = std::string("after a restart: ") + e.what();
      finished(rec.id, invalid);
    }
  }
  if (queued)
    spdlog::warn("journal: queued {} job(s) again that a previous service had accepted ({} had started and run again "
                 "as their next attempt)", queued, rerun);
  return queued;
}

}  // namespace cellblock::service
