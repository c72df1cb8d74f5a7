// How a worker takes new jobs from its queue's streams: one round trip per read, whether jobs
// wait or not (docs/distributed.md, "The worker").
//
// One script reads up to `free` new entries in group `workers`, from the highest-priority stream
// down, each stream only for what the ones above left, and answers with each job's cancel mark
// (NAME:cancelled:<id>, a cancel asked before any worker held it) and each stream's newest entry.
// When it found nothing, the next read blocks first (XREAD BLOCK, outside the group) until an
// entry newer than those arrives, and the script is sent in the same write: Redis runs it as soon
// as the XREAD wakes, so a job that arrives while the worker waits costs no second round trip.
// XREADGROUP's own BLOCK could not do this: it counts per stream, so it may hand over more jobs
// than free slots, and what it read would still need its cancel marks looked up.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "jobs/dispatch/job_stream.h"

namespace cellblock {

struct ReadJob {
  StreamJob job;
  bool cancelled = false;  // a cancel mark was there when it was read
};

class JobReader {
 public:
  JobReader(const QueueKeys& keys, std::string consumer, std::chrono::milliseconds block);
  // Up to `free` jobs, highest priority first. Empty after waiting up to `block` when the last
  // read found nothing. Throws RedisError (NOGROUP when Redis lost the group), but only when it
  // read no job: jobs read before an error are returned, and the error comes at the next read.
  std::vector<ReadJob> read(RedisClient& redis, size_t free);

 private:
  QueueKeys keys_;
  std::string consumer_;
  std::string block_ms_;
  // Each job stream's newest entry id when the last read found nothing: the next one waits for
  // a newer entry. Empty: read without waiting.
  std::vector<std::string> newest_;
};

}  // namespace cellblock
