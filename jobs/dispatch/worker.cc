#include "jobs/dispatch/worker.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include "jobs/dispatch/job_records.h"
#include "jobs/dispatch/stop_signals.h"
#include "jobs/format/result_json.h"

namespace cellblock {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string result_text(Result r, const std::string& id) {
  r.id = id;  // the stream's id wins: it is the key the submitter waits for
  return dump_json(result_to_json(r));
}

Result failed(Status status, std::string error) {
  Result r;
  r.status = status;
  r.error = std::move(error);
  return r;
}

}  // namespace

Worker::Worker(WorkerOptions options, JobRunner& runner, JobParser parser)
    : options_(std::move(options)),
      keys_(options_.queue),
      parser_(std::move(parser)),
      reader_(std::make_unique<RedisClient>(options_.redis)),
      writer_(std::make_unique<RedisClient>(options_.redis)),
      job_reader_(keys_, options_.name, milliseconds(200)),
      relay_(options_.redis, keys_, options_.name),
      queue_(runner, options_.local) {
  ensure_group(*reader_, keys_);
  if (!options_.state_dir.empty()) {
    spool_ = std::make_unique<ResultSpool>(
        spool_root(options_.state_dir, options_.redis.host, options_.redis.port, options_.redis.db, options_.queue),
        options_.name);
    // An earlier run's results (this worker's, or a dead one's it took over) go first, in order.
    for (SpooledResult& r : spool_->load()) to_write_.push_back({std::move(r.finished), std::move(r.file)});
    spooled_ = to_write_.size();
    if (spooled_ > 0) spdlog::info("worker {}: writing {} result(s) an earlier run spooled in {}", options_.name, spooled_, spool_->dir().string());
  }
  if (options_.metrics) register_metrics(*options_.metrics);
  writer_thread_ = std::thread([this] { write_results(); });
  subscriber_ = std::make_unique<RedisClient>(options_.redis);
  subscriber_->command({"SUBSCRIBE", keys_.cancel, keys_.follow});
  cancel_thread_ = std::thread([this] { listen_for_cancels(); });
}

Worker::~Worker() {
  closing_ = true;
  if (subscriber_) subscriber_->interrupt();
  if (cancel_thread_.joinable()) cancel_thread_.join();
  {
    std::lock_guard lock(mutex_);
    writer_done_ = true;
  }
  wake_writer_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
}

size_t Worker::free_slots() const {
  std::lock_guard lock(mutex_);
  return options_.local.parallel > held_.size() ? options_.local.parallel - held_.size() : 0;
}

void Worker::register_metrics(metrics::Registry& m) {
  const std::vector<std::string> queue_label{"queue"};
  const metrics::LabelValues queue{options_.queue};
  jobs_total_ = &m.counter("cellblock_jobs_total", "Jobs this worker ended, by result status", {"queue", "status"});
  duplicates_ = &m.counter("cellblock_worker_duplicate_results_total",
                           "Results this worker computed for a job that had one already (at-least-once at work)", queue_label)
                     .with(queue);
  last_heartbeat_ = &m.gauge("cellblock_worker_last_heartbeat_timestamp_seconds",
                             "Unix time of the last heartbeat (XCLAIM JUSTID) this worker sent for the jobs it holds",
                             queue_label)
                         .with(queue);
  m.gauge_fn("cellblock_worker_running_jobs", "Jobs running in this worker's cells now",
             [this] { return static_cast<double>(queue_.counts().running); }, queue_label, queue);
  m.gauge_fn("cellblock_worker_slots", "Jobs this worker runs at once (--parallel)",
             [this] { return static_cast<double>(options_.local.parallel); }, queue_label, queue);
  m.gauge_fn("cellblock_worker_held_jobs", "Jobs this worker read and has not written the result of yet",
             [this] {
               std::lock_guard lock(mutex_);
               return static_cast<double>(held_.size());
             },
             queue_label, queue);
  m.gauge_fn("cellblock_worker_unwritten_results", "Finished results not yet written to Redis",
             [this] {
               std::lock_guard lock(mutex_);
               return static_cast<double>(to_write_.size());
             },
             queue_label, queue);
  m.gauge_fn("cellblock_worker_spooled_results", "Results kept on disk until Redis takes them",
             [this] {
               std::lock_guard lock(mutex_);
               return static_cast<double>(spooled_);
             },
             queue_label, queue);
  m.gauge_fn("cellblock_redis_up", "1 while Redis answers this worker, 0 while it does not",
             [this] { return redis_up_ ? 1.0 : 0.0; }, queue_label, queue);
}

void Worker::finish(Finished finished, Status status) {
  if (jobs_total_) jobs_total_->with({options_.queue, std::string(to_string(status))}).inc();
  {
    std::lock_guard lock(mutex_);
    to_write_.push_back({std::move(finished), ""});
  }
  wake_writer_.notify_all();
}

void Worker::accept_reclaimed(std::vector<StreamJob> jobs) {
  // A cancel asked for before any worker held the job (DELETE on a front end, submit --cancel)
  // was published to nobody; its key says so.
  std::vector<std::string> ids;
  for (const StreamJob& job : jobs) ids.push_back(job.id);
  std::vector<bool> cancelled = cancel_requested(*reader_, keys_, ids);
  for (size_t i = 0; i < jobs.size(); ++i) accept(std::move(jobs[i]), cancelled[i]);
}

void Worker::accept(StreamJob job, bool cancelled) {
  {
    std::lock_guard lock(mutex_);
    // Our own entry, reclaimed because a heartbeat came late: it runs here already.
    if (!held_.emplace(std::pair{job.stream, job.entry_id}, job).second) return;
  }
  if (job.deliveries > options_.max_deliveries) {
    std::string reason = "dead-lettered to " + keys_.dead + ": delivered " + std::to_string(job.deliveries) +
                         " times, more than --max-deliveries " + std::to_string(options_.max_deliveries) +
                         " (its workers died or stopped while running it)";
    spdlog::warn("worker {}: job {}: {}", options_.name, job.id, reason);
    std::string text = result_text(failed(Status::internal_error, reason), job.id);
    finish({std::move(job), std::move(text), std::move(reason)}, Status::internal_error);
    return;
  }
  if (cancelled) {
    spdlog::info("worker {}: job {} was cancelled before it started", options_.name, job.id);
    std::string text = result_text(failed(Status::cancelled, "cancelled before it started (DELETE /v1/jobs/" + job.id +
                                                                 " or cellblock submit --cancel)"), job.id);
    finish({std::move(job), std::move(text), std::nullopt}, Status::cancelled);
    return;
  }
  JobRequest request;
  try {
    request = parser_(job.text);
  } catch (const FieldError& e) {
    std::string text = result_text(failed(Status::invalid_job, e.what()), job.id);
    finish({std::move(job), std::move(text), std::nullopt}, Status::invalid_job);
    return;
  }
  request.job.id = job.id;
  auto started = std::make_shared<bool>(false);
  Submission s;
  s.job = std::move(request.job);
  s.priority = request.priority;
  s.queue_timeout_ms = request.queue_timeout_ms;
  s.on_started = [started] { *started = true; };
  s.output = relay_.track(job.id);
  s.on_done = [this, job, started, output = s.output](Result& r) {
    bool keep_pending;
    {
      std::lock_guard lock(mutex_);
      // Stopped by our own shutdown: the job is not done, only interrupted here. It stays
      // pending (unacked) so that another worker claims it and runs it whole.
      keep_pending = stopping_ && (r.status == Status::cancelled || !*started);
      queued_.erase(job.id);
      if (keep_pending) held_.erase({job.stream, job.entry_id});
    }
    relay_.finish(output, /*whole=*/!keep_pending);
    if (!keep_pending) finish({job, result_text(r, job.id), std::nullopt}, r.status);
  };
  const std::string id = job.id;
  uint64_t queue_id = queue_.submit(std::move(s));
  std::lock_guard lock(mutex_);
  queued_[id] = queue_id;
}

// `cellblock submit --cancel ID` publishes the id; the worker that holds the job cancels it in
// its local queue (a running cell is killed), and the result says `cancelled`. A front end
// publishes a followed job's id on NAME:follow: its output goes to NAME:output:<id>.
void Worker::listen_for_cancels() {
  while (!closing_) {
    try {
      if (!subscriber_->ok()) {
        std::this_thread::sleep_for(milliseconds(500));
        if (closing_) return;
        auto fresh = std::make_unique<RedisClient>(options_.redis);
        fresh->command({"SUBSCRIBE", keys_.cancel, keys_.follow});
        subscriber_ = std::move(fresh);  // only this thread and the destructor (after closing_) touch it
        cancel_marked_jobs();
      }
      Reply r = subscriber_->read_pushed();  // ["message", channel, id]
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || reply_string(r->element[0]) != "message") continue;
      std::string id = reply_string(r->element[2]);
      if (reply_string(r->element[1]) == keys_.follow) {
        relay_.follow(id);
        continue;
      }
      std::optional<uint64_t> queue_id;
      {
        std::lock_guard lock(mutex_);
        if (auto it = queued_.find(id); it != queued_.end()) queue_id = it->second;
      }
      if (queue_id) {
        spdlog::info("worker {}: cancelling job {} on request", options_.name, id);
        queue_.cancel(*queue_id, "cancelled by cellblock submit --cancel");
      }
    } catch (const RedisError&) {
      if (closing_) return;
      // Idle longer than the read timeout, or Redis away: subscribe again.
      if (subscriber_->ok()) subscriber_->interrupt();
    }
  }
}

// A cancel published while this worker was not subscribed (its subscriber reconnects after each
// read timeout, and after Redis was away) reached nobody; the mark it left (NAME:cancelled:<id>)
// is there still. So on each new subscription the marks of every job held here are read.
void Worker::cancel_marked_jobs() {
  std::vector<std::string> ids;
  std::vector<uint64_t> queue_ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, queue_id] : queued_) {
      ids.push_back(id);
      queue_ids.push_back(queue_id);
    }
  }
  if (ids.empty()) return;
  RedisClient marks(options_.redis);  // the subscriber's connection takes no other command
  const std::vector<bool> cancelled = cancel_requested(marks, keys_, ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!cancelled[i]) continue;
    spdlog::info("worker {}: cancelling job {}: its cancel was published while this worker was not subscribed",
                 options_.name, ids[i]);
    queue_.cancel(queue_ids[i], "cancelled by cellblock submit --cancel");
  }
}

// What a worker holds it runs now: never more than its free slots (job_reader.h).
void Worker::read_new(size_t free) {
  for (ReadJob& r : job_reader_.read(*reader_, free)) accept(std::move(r.job), r.cancelled);
}

void Worker::reclaim(size_t free) {
  for (const std::string& stream : keys_.streams()) reclaim(stream, std::min(free, free_slots()));
}

void Worker::reclaim(const std::string& stream, size_t free) {
  if (free == 0) return;
  std::string& cursor = claim_cursor_.try_emplace(stream, "0-0").first->second;
  Reply r = reader_->command({"XAUTOCLAIM", stream, QueueKeys::group, options_.name,
                              std::to_string(options_.claim_idle.count()), cursor, "COUNT", std::to_string(free)});
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
  cursor = reply_string(r->element[0]);
  std::vector<std::string> gone;
  auto jobs = parse_entries(r->element[1], stream, &gone);
  // Redis 7 lists entries deleted from the stream third: nothing to run, only to ack.
  if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < r->element[2]->elements; ++i) gone.push_back(reply_string(r->element[2]->element[i]));
  for (const auto& id : gone) reader_->command({"XACK", stream, QueueKeys::group, id});
  for (StreamJob& job : jobs) {
    job.deliveries = delivery_count(*reader_, job);
    spdlog::info("worker {}: reclaimed job {} (entry {}, delivery {})", options_.name, job.id, job.entry_id, job.deliveries);
  }
  accept_reclaimed(std::move(jobs));
}

// XCLAIM to ourselves with JUSTID resets the entries' idle time without counting a delivery:
// other workers' XAUTOCLAIM leaves them alone while this worker lives.
void Worker::heartbeat() {
  std::map<std::string, Command> claims;  // one XCLAIM per stream
  {
    std::lock_guard lock(mutex_);
    for (const auto& [where, job] : held_) {
      auto [it, fresh] = claims.try_emplace(where.first);
      if (fresh) it->second = {"XCLAIM", where.first, QueueKeys::group, options_.name, "0"};
      it->second.push_back(where.second);
    }
  }
  for (auto& [stream, claim] : claims) {
    claim.push_back("JUSTID");
    reader_->command(claim);
  }
  if (last_heartbeat_)
    last_heartbeat_->set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Writes results in the order they finished, each in one script (job_stream.h). While Redis
// is away it spools every result that waits, and each that finishes meanwhile, and tries again
// with backoff; a spooled result's file goes once Redis has it. Stopping while Redis is away
// leaves the spool to the next start.
void Worker::write_results() {
  auto backoff = milliseconds(100);
  bool down = false;
  bool spool_failed = false;  // until the next try: not again for each result that finishes
  auto retry_at = Clock::now();
  for (;;) {
    std::vector<Unwritten*> unspooled;  // elements of a deque stay where they are as it grows
    bool done;
    Unwritten* next = nullptr;
    {
      std::unique_lock lock(mutex_);
      const bool can_spool = spool_ && !spool_failed;
      if (down)
        wake_writer_.wait_until(lock, retry_at, [&] { return writer_done_ || (can_spool && to_write_.size() > spooled_); });
      else wake_writer_.wait(lock, [&] { return writer_done_ || !to_write_.empty(); });
      if (to_write_.empty() && writer_done_) return;
      if (down && can_spool)
        for (size_t i = spooled_; i < to_write_.size(); ++i) unspooled.push_back(&to_write_[i]);
      done = writer_done_;
      if (!to_write_.empty()) next = &to_write_.front();
    }
    if (!unspooled.empty()) spool_failed = !spool(unspooled);
    if (down && done) {
      std::lock_guard lock(mutex_);
      spdlog::warn("worker {}: stopping while Redis is away: {} result(s) stay in {} for the next start{}", options_.name,
                   spooled_, spool_ ? spool_->dir().string() : "(no spool)",
                   to_write_.size() > spooled_ ? "; " + std::to_string(to_write_.size() - spooled_) + " could not be spooled and are lost" : "");
      return;
    }
    if (!next || (down && Clock::now() < retry_at)) continue;
    spool_failed = false;
    try {
      if (!writer_->ok()) writer_ = std::make_unique<RedisClient>(options_.redis);
      if (!publish_result(*writer_, keys_, next->finished, options_.result_ttl)) {
        spdlog::info("worker {}: job {} had a result already; this one is counted in {}", options_.name,
                     next->finished.job.id, keys_.duplicates);
        if (duplicates_) duplicates_->inc();
      }
      if (down) spdlog::info("worker {}: Redis is back; writing the results that waited", options_.name);
      down = false;
      redis_up_ = true;
      backoff = milliseconds(100);
    } catch (const RedisError& e) {
      // The ACL refuses this user a command of the result script: waiting will not change that,
      // and the reader would go on heartbeating the jobs held here, so no other worker could
      // take them. run() stops the worker as for its own refusals; the result waits as below
      // (in the spool), and its job stays pending for another worker.
      if (is_refusal(e.what())) {
        std::lock_guard lock(mutex_);
        if (writer_refused_.empty()) writer_refused_ = e.what();
      }
      // The result stays first in line: nothing finished is lost while Redis is away.
      if (!down)
        spdlog::warn("worker {}: writing the result of job {}: {}; results wait{} until Redis is back (again in {} ms, "
                     "backing off up to 5 s)",
                     options_.name, next->finished.job.id, e.what(), spool_ ? " in " + spool_->dir().string() : " in memory",
                     backoff.count());
      down = true;
      redis_up_ = false;
      retry_at = Clock::now() + backoff;
      backoff = std::min(backoff * 2, milliseconds(5000));
      continue;
    }
    if (!next->spool_file.empty()) try {
        spool_->remove(next->spool_file);
      } catch (const std::exception& e) {
        // Written already: at the next start it is written again, and counted as a duplicate.
        spdlog::error("worker {}: {}", options_.name, e.what());
      }
    {
      std::lock_guard lock(mutex_);
      if (!next->spool_file.empty()) --spooled_;
      held_.erase({next->finished.job.stream, next->finished.job.entry_id});
      to_write_.pop_front();
    }
    slot_freed_.notify_all();
  }
}

bool Worker::spool(const std::vector<Unwritten*>& unspooled) {
  for (Unwritten* u : unspooled) {
    std::string file;
    try {
      file = spool_->put(u->finished);
    } catch (const std::exception& e) {
      // The disk failed too: the result waits in memory, and spooling is tried again.
      spdlog::error("worker {}: spooling the result of job {}: {}", options_.name, u->finished.job.id, e.what());
      return false;
    }
    std::lock_guard lock(mutex_);
    u->spool_file = std::move(file);
    ++spooled_;
  }
  return true;
}

int Worker::run() {
  spdlog::info("worker {}: reading {} at {} (parallel {})", options_.name, keys_.jobs, options_.redis.display(),
               options_.local.parallel);
  const milliseconds beat = std::max(milliseconds(50), options_.claim_idle / 4);
  auto next_beat = Clock::now() + beat;
  auto next_claim = Clock::now();
  auto backoff = milliseconds(100);
  bool reader_down = false;  // logged once when Redis goes, once when it is back
  int first_signal = 0;
  std::string refused;  // NOPERM: what Redis refused this worker's user
  while (!(first_signal = wait_for_stop_signal(milliseconds(0)))) {
    {
      std::lock_guard lock(mutex_);
      if (!writer_refused_.empty()) {
        refused = writer_refused_;
        break;
      }
    }
    try {
      if (!reader_->ok()) reader_ = std::make_unique<RedisClient>(options_.redis);
      if (Clock::now() >= next_beat) {
        heartbeat();
        next_beat = Clock::now() + beat;
      }
      if (size_t free = free_slots(); free > 0 && Clock::now() >= next_claim) {
        reclaim(free);
        next_claim = Clock::now() + beat;
      }
      // Only as many jobs as there are free slots: what a worker holds, it runs now, and
      // nothing waits here that another worker could run sooner.
      if (size_t free = free_slots(); free > 0) {
        read_new(free);
        redis_up_ = true;
      } else {
        // Full: wake as soon as a result is written and its slot is free (polling here capped
        // a worker at parallel/50 ms jobs a second), and look for a stop signal at least every 50 ms.
        std::unique_lock lock(mutex_);
        slot_freed_.wait_for(lock, milliseconds(50), [&] { return held_.size() < options_.local.parallel; });
        lock.unlock();
        if ((first_signal = wait_for_stop_signal(milliseconds(0)))) break;
      }
      if (reader_down) spdlog::info("worker {}: Redis answers again; reading jobs", options_.name);
      reader_down = false;
      backoff = milliseconds(100);
    } catch (const RedisError& e) {
      // The ACL refuses this user a command a worker needs (docs/distributed.md, "Security"):
      // waiting will not change that. Stop as for a signal, and say why.
      if (is_refusal(e.what())) {
        refused = e.what();
        break;
      }
      redis_up_ = false;
      if (!reader_down)
        spdlog::warn("worker {}: {}; trying again with backoff up to 5 s, quietly until it answers (cellblock_redis_up is 0)",
                     options_.name, e.what());
      reader_down = true;
      if ((first_signal = wait_for_stop_signal(backoff))) break;
      // A Redis that lost its data (restarted without AOF, FLUSHALL) lost the group too.
      if (std::string_view(e.what()).find("NOGROUP") != std::string_view::npos) try {
          ensure_group(*reader_, keys_);
        } catch (const RedisError&) {
        }
      backoff = std::min(backoff * 2, milliseconds(5000));
    }
  }
  spdlog::info("worker {}: {}: reading no more; running jobs get {} ms", options_.name,
               !refused.empty() ? "Redis refused a command" : first_signal == SIGINT ? "SIGINT" : "SIGTERM",
               options_.grace.count());
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queue_.shutdown(options_.grace);
  for (;;) {
    auto counts = queue_.counts();
    if (counts.running == 0 && counts.waiting == 0) break;
    if (wait_for_stop_signal(milliseconds(100))) queue_.shutdown(milliseconds(0));
    try {
      if (Clock::now() >= next_beat) {
        heartbeat();
        next_beat = Clock::now() + beat;
      }
    } catch (const RedisError& e) {
      spdlog::warn("worker {}: {}", options_.name, e.what());
    }
  }
  queue_.wait_idle();
  if (!refused.empty())
    throw RedisError(refused + " (a worker's ACL user needs the commands docs/distributed.md lists under Security)");
  return first_signal;
}

}  // namespace cellblock
