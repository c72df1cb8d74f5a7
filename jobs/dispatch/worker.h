// `cellblock worker`: takes jobs from NAME:jobs in group `workers`, runs them in the local
// JobQueue, writes each result once (job_stream.h), and keeps the jobs it holds from being
// claimed by others while they run. docs/distributed.md has the whole protocol.
//
// Threads: the caller's reads the stream (job_reader.h, XAUTOCLAIM, the heartbeat XCLAIM), one
// more writes results, each on its own connection, since a hiredis context is for one thread;
// the queue has its own. While Redis is away, the writer keeps every finished result on disk
// (result_spool.h) until it is written, and a worker started later delivers what an earlier one
// left there.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "jobs/dispatch/job_reader.h"
#include "jobs/dispatch/job_stream.h"
#include "jobs/dispatch/output_relay.h"
#include "jobs/dispatch/redis_url.h"
#include "jobs/dispatch/result_spool.h"
#include "jobs/format/job_json.h"
#include "jobs/metrics/metrics.h"
#include "jobs/queue/job_queue.h"

namespace cellblock {

struct WorkerOptions {
  RedisUrl redis;
  std::string queue;  // NAME
  std::string name;   // the consumer's name in the group; unique per worker
  QueueOptions local;
  std::chrono::milliseconds claim_idle{std::chrono::seconds(60)};  // a job pending this long is a dead worker's
  long long max_deliveries = 3;
  std::chrono::seconds result_ttl{std::chrono::hours(24)};
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  // The spool (result_spool.h) goes below it; empty: no spool, results wait in memory only.
  std::string state_dir;
  // Where the worker counts what it does (cellblock_worker_*, cellblock_jobs_total); may be null.
  // It must outlive the worker, and whoever exposes it must stop before the worker goes.
  metrics::Registry* metrics = nullptr;
};

// Reads a job's JSON text as the worker's host sees it (defaults, policies). Throws FieldError.
using JobParser = std::function<JobRequest(const std::string& text)>;

class Worker {
 public:
  // Connects both connections and creates the group: throws RedisError with one line. Opens the
  // spool (throws SysError or std::runtime_error) and queues what it holds to be written first.
  Worker(WorkerOptions options, JobRunner& runner, JobParser parser);
  ~Worker();
  // Runs until SIGINT or SIGTERM, which the caller has blocked before starting any thread
  // (block_stop_signals).
  // Then it reads no more, lets running jobs finish within the grace (a second signal kills
  // them), writes their results and leaves jobs that did not start pending for other workers.
  // Returns the first signal's number. When Redis refuses this worker's user a command it needs
  // (is_refusal), it stops the same way and then throws RedisError naming the command.
  int run();

 private:
  void accept_reclaimed(std::vector<StreamJob> jobs);  // looks up their cancel marks first
  void accept(StreamJob job, bool cancelled);
  void finish(Finished finished, Status status);
  void read_new(size_t free);
  void reclaim(size_t free);  // on each stream, highest priority first
  void reclaim(const std::string& stream, size_t free);
  void heartbeat();
  void write_results();
  struct Unwritten {
    Finished finished;
    std::string spool_file;  // its file in the spool, once it is there
  };
  // On the writer thread: spools them in order; false when the disk failed (the rest wait in memory).
  bool spool(const std::vector<Unwritten*>& unspooled);
  void register_metrics(metrics::Registry& registry);
  void listen_for_cancels();  // and for follows (output_relay.h)
  void cancel_marked_jobs();  // on the listening thread, after each new subscription
  size_t free_slots() const;  // parallel minus the jobs held

  WorkerOptions options_;
  QueueKeys keys_;
  JobParser parser_;
  std::unique_ptr<RedisClient> reader_;
  std::unique_ptr<RedisClient> writer_;  // made again after a connection error
  JobReader job_reader_;  // on reader_
  std::map<std::string, std::string> claim_cursor_;  // per stream, "0-0" at first

  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable slot_freed_;  // a held job's result is written: the reader may read again
  // By (stream, entry id): read and not yet acked. Entry ids are unique only within a stream.
  std::map<std::pair<std::string, std::string>, StreamJob> held_;
  std::map<std::string, uint64_t> queued_;  // job id -> the local queue's id, while it is there
  // Results in the order they finished. The spooled ones are always the first `spooled_`: the
  // writer spools everything behind them at once, and only it takes from the front.
  std::deque<Unwritten> to_write_;
  size_t spooled_ = 0;
  std::unique_ptr<ResultSpool> spool_;
  std::atomic<bool> redis_up_{true};
  metrics::CounterFamily* jobs_total_ = nullptr;  // by status
  metrics::Counter* duplicates_ = nullptr;
  metrics::Gauge* last_heartbeat_ = nullptr;
  bool stopping_ = false;
  bool writer_done_ = false;
  std::string writer_refused_;  // what Redis refused the writer's user (is_refusal): the worker stops
  std::thread writer_thread_;
  std::unique_ptr<RedisClient> subscriber_;  // SUBSCRIBE NAME:cancel NAME:follow
  std::atomic<bool> closing_{false};
  std::thread cancel_thread_;
  OutputRelay relay_;  // live output of the jobs clients follow
  JobQueue queue_;  // last: destroyed first, while what its callbacks use is still there
};

}  // namespace cellblock
