// GET /v1/jobs/{id}/output on a front end (`serve --redis`): a job's stdout and stderr while it
// runs on whichever worker holds it, streamed (chunked) as on a lone service.
//
// The front end publishes the id on NAME:follow, again every kRepublish until the job's output
// stream NAME:output:<id> has something (the job may still be queued, or its worker may have
// been away from the channel), and reads the stream every kPoll with XREAD on the front end's
// lane (one command per follower per poll, never blocking the lane). The worker
// (jobs/dispatch/output_relay.h) writes the stream from the job's first byte, then an end entry.
// When the job is done:
//  - nothing came through the stream: the answer is the result's output, all of it;
//  - the end entry came: the stream was all of it;
//  - neither within kEndWait (the relay lost Redis): the rest is taken from the result, by the
//    byte counts already sent, stdout's rest before stderr's (bytes that are not UTF-8 are
//    replaced in a result, so there the rest may be off by those bytes).
// A done job is answered from its result at once; an unknown id is 404. A new run of the job
// (its worker died) ends a stream that had output from the old run: asking again shows the new
// one. A job whose record expires unrun ends the stream. When Redis refuses XREAD (an ACL
// without it), the whole output comes from the result once the job is done.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "jobs/dispatch/queue_keys.h"
#include "jobs/frontend/redis_lane.h"
#include "jobs/service/live_output.h"
#include "jobs/service/router.h"

namespace cellblock::frontend {

inline constexpr std::chrono::milliseconds kPoll{100};
inline constexpr std::chrono::milliseconds kRepublish{500};
inline constexpr std::chrono::milliseconds kEndWait{2000};

// Streams job `id`'s output to `answer` (a job the front end found queued or running). `owner`
// is kept alive until the answer ends: it owns the lane.
void follow_output(RedisLane& lane, std::shared_ptr<const void> owner, boost::asio::io_context& io, const QueueKeys& keys,
                   const std::string& id, service::OutputFilter filter, service::ResponderPtr answer);

}  // namespace cellblock::frontend
