// The Redis keys of one queue NAME (docs/distributed.md lists who writes each).
#pragma once

#include <string>
#include <vector>

namespace cellblock {

struct QueueKeys {
  explicit QueueKeys(const std::string& name)
      : jobs(name + ":jobs"), ids(name + ":ids"), seq(name + ":seq"), jobs_high(name + ":jobs:high"), jobs_low(name + ":jobs:low"), results(name + ":results"), dead(name + ":dead"), done(name + ":done"),
        duplicates(name + ":duplicates"), cancel(name + ":cancel"), follow(name + ":follow"), result_prefix(name + ":result:"),
        job_prefix(name + ":job:"), cancelled_prefix(name + ":cancelled:"), output_prefix(name + ":output:") {}
  static constexpr const char* group = "workers";  // the consumer group every worker reads in
  std::string jobs;        // stream: jobs to run, fields id, job (JSON text); "priority" 0
  std::string ids;         // sorted set: job ids by when a front end or submit accepted them (job_records.cc)
  std::string seq;         // counter: jobs accepted, the tie-break of NAME:ids's scores
  std::string jobs_high;   // the same for "priority" above 0: workers read it first
  std::string jobs_low;    // and below 0: read last
  std::string results;     // stream: one entry per job id, fields id, result (JSON text)
  std::string dead;        // stream: dead-lettered jobs, fields id, job, reason, deliveries
  std::string done;        // pub/sub channel: a job id when its result is there
  std::string duplicates;  // counter: results written again for an id that had one already
  std::string cancel;      // pub/sub channel: a job id to cancel wherever it runs
  std::string follow;      // pub/sub channel: a job id whose output a client follows (output_relay.h)
  std::string result_prefix;
  std::string job_prefix;
  std::string cancelled_prefix;
  std::string output_prefix;
  // The job streams, highest priority first: the order workers read them in.
  std::vector<std::string> streams() const { return {jobs_high, jobs, jobs_low}; }
  const std::string& stream_for(int priority) const { return priority > 0 ? jobs_high : priority < 0 ? jobs_low : jobs; }
  std::string result(const std::string& id) const { return result_prefix + id; }  // string, with a TTL
  // hash, with a TTL: where a job a front end accepted went (fields stream, entry, submitted_ms)
  std::string job(const std::string& id) const { return job_prefix + id; }
  // string, with a TTL: a cancel asked for; a worker that reads the job later ends it unrun
  std::string cancelled(const std::string& id) const { return cancelled_prefix + id; }
  // stream, with a short TTL: a followed job's stdout and stderr as it runs (output_relay.h)
  std::string output(const std::string& id) const { return output_prefix + id; }
};

}  // namespace cellblock
