// What every module serving jobs over HTTP reads the same way: a POST body of one job or
// {"jobs": [...]}, a query value in seconds, and FieldErrors turned into 400 answers. Shared by
// the native routes (native_routes.h) and the Redis front end (jobs/frontend/), so that both
// name a bad field with the same words.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/format/json_reader.h"
#include "jobs/service/router.h"

namespace cellblock::service {

// Most jobs one POST may carry.
inline constexpr size_t kMaxJobsPerRequest = 10000;

// Calls `read_one` with each job object of the body: the body itself, or each of {"jobs": [...]}
// (`batch` true). A FieldError `read_one` throws for a job of a batch names it:
// "jobs[2].limits.memory_bytes". Throws FieldError.
void for_each_job(const std::string& body, bool& batch, const std::function<void(const nlohmann::json& job)>& read_one);

// `e`, a FieldError of the i-th job of a batch, naming its field as for_each_job does.
FieldError in_batch_job(const FieldError& e, size_t i);

// A query value in seconds (fractions allowed) from 0 to an hour; `fallback` when absent.
// Throws FieldError naming the key.
std::chrono::milliseconds seconds_param(const Call& call, const std::string& key, double fallback);
// GET /v1/jobs's `state` (queued, running or done; none when absent) and `limit` (1 to 1000,
// 100 when absent). Throw FieldError naming the key.
std::optional<std::string> state_param(const Call& call);
size_t limit_param(const Call& call);

// For a POST with ?wait: calls `wait_one(i, give)` for each of `n` jobs; once each has given its
// record (`give(record, done)`, in any order, on the io thread), calls `then` with them all.
using GiveRecord = std::function<void(nlohmann::json record, bool done)>;
void gather_records(size_t n, const std::function<void(size_t i, GiveRecord give)>& wait_one,
                    std::function<void(std::vector<nlohmann::json> records, bool all_done)> then);

// A handler whose FieldErrors become 400 naming the field.
Handler checked(std::function<void(Call&, ResponderPtr)> f);

}  // namespace cellblock::service
