#include "jobs/service/route_helpers.h"

#include <memory>

#include "jobs/format/json_reader.h"
#include "jobs/service/http.h"

namespace cellblock::service {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {
constexpr double kMaxWaitSeconds = 3600;
}

FieldError in_batch_job(const FieldError& e, size_t i) {
  const std::string prefix = index_path("jobs", i);
  const std::string field = e.field().empty() ? prefix : e.field()[0] == '[' ? prefix + e.field() : prefix + "." + e.field();
  return FieldError(field, e.reason());
}

void for_each_job(const std::string& body, bool& batch, const std::function<void(const json& job)>& read_one) {
  const json doc = parse_json_text(body);
  batch = doc.is_object() && doc.contains("jobs");
  if (!batch) return read_one(doc);
  require_object(doc, "", {"jobs"});
  require_array(doc["jobs"], "jobs", "jobs");
  if (doc["jobs"].empty()) throw FieldError("jobs", "must not be empty");
  if (doc["jobs"].size() > kMaxJobsPerRequest)
    throw FieldError("jobs", std::to_string(doc["jobs"].size()) + " jobs are too many for one request (at most " +
                                 std::to_string(kMaxJobsPerRequest) + ")");
  for (size_t i = 0; i < doc["jobs"].size(); ++i) {
    try {
      read_one(doc["jobs"][i]);
    } catch (const FieldError& e) {
      throw in_batch_job(e, i);
    }
  }
}

milliseconds seconds_param(const Call& call, const std::string& key, double fallback) {
  auto v = call.query_value(key);
  if (!v) return milliseconds(static_cast<int64_t>(fallback * 1000));
  try {
    size_t used = 0;
    double s = std::stod(*v, &used);
    if (used == v->size() && s >= 0 && s <= kMaxWaitSeconds) return milliseconds(static_cast<int64_t>(s * 1000));
  } catch (const std::exception&) {
  }
  throw FieldError(key, json_quoted(*v) + " is not a number of seconds from 0 to " +
                            std::to_string(static_cast<int>(kMaxWaitSeconds)));
}

std::optional<std::string> state_param(const Call& call) {
  auto s = call.query_value("state");
  if (s && *s != "queued" && *s != "running" && *s != "done")
    throw FieldError("state", json_quoted(*s) + " is not a state (queued, running or done)");
  return s;
}

size_t limit_param(const Call& call) {
  auto l = call.query_value("limit");
  if (!l) return 100;
  try {
    size_t used = 0;
    const size_t limit = std::stoul(*l, &used);
    if (used == l->size() && limit >= 1 && limit <= 1000) return limit;
  } catch (const std::exception&) {
  }
  throw FieldError("limit", json_quoted(*l) + " is not a whole number from 1 to 1000");
}

void gather_records(size_t n, const std::function<void(size_t i, GiveRecord give)>& wait_one,
                    std::function<void(std::vector<json> records, bool all_done)> then) {
  struct State {
    std::vector<json> records;
    size_t left;
    bool all_done = true;
    std::function<void(std::vector<json>, bool)> then;
  };
  auto st = std::make_shared<State>();
  st->records.resize(n);
  st->left = n;
  st->then = std::move(then);
  for (size_t i = 0; i < n; ++i)
    wait_one(i, [st, i](json record, bool done) {
      st->records[i] = std::move(record);
      if (!done) st->all_done = false;
      if (--st->left == 0) st->then(std::move(st->records), st->all_done);
    });
}

Handler checked(std::function<void(Call&, ResponderPtr)> f) {
  return [f = std::move(f)](Call& call, ResponderPtr answer) {
    try {
      f(call, answer);
    } catch (const FieldError& e) {
      answer->send(invalid_input(e));
    }
  };
}

}  // namespace cellblock::service
