#include "jobs/service/native_routes.h"

#include <memory>

#include "jobs/format/client_host_paths.h"
#include "jobs/format/job_json.h"
#include "jobs/format/json_reader.h"
#include "jobs/service/route_helpers.h"

namespace cellblock::service {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

Response not_found(const std::string& id) {
  return error_response(http::status::not_found, "no job with id " + json_quoted(id), "id");
}

// A job the shutdown stopped has no result and no output here: it runs again at the next start.
Response stopped_by_shutdown(const std::string& id) {
  return error_response(http::status::service_unavailable,
                        "job " + json_quoted(id) + " was stopped by the service's shutdown; it runs again when the "
                        "service starts again on this state directory", "id");
}

// Parses the body into jobs: one job, or {"jobs": [...]} (`batch`). Each is prepared, unless it
// names an image: that waits for ImageJobs. Throws FieldError.
std::vector<JobRequest> read_jobs(const std::string& body, ServiceContext& ctx, bool& batch, bool& images) {
  std::vector<JobRequest> out;
  images = false;
  for_each_job(body, batch, [&](const json& j) {
    ctx.client_paths.check(j);
    JobRequest r = request_from_json(j, ctx.defaults);
    r.client_fields = ClientHostPaths::named_fields(j);
    if (names_image(r.job)) images = true;
    else prepare_job(r.job, ctx.policies);
    out.push_back(std::move(r));
  });
  return out;
}

// Waits for every id (each until the same deadline), then calls `then` with their records.
void wait_all(JobStore& store, std::vector<std::string> ids, milliseconds timeout,
              std::function<void(std::vector<json> records, bool all_done)> then) {
  gather_records(
      ids.size(),
      [&store, &ids, timeout](size_t i, GiveRecord give) {
        store.wait(ids[i], timeout, [give](const JobRecord* r) {
          give(r ? record_json(*r) : json(nullptr), r && r->state == JobState::done);
        });
      },
      std::move(then));
}

// Queues prepared jobs and answers: 202 with their ids, or 200 with the records once they end
// within `wait`.
void accept_jobs(NativeApi& api, std::vector<JobRequest> jobs, bool batch, milliseconds wait, ResponderPtr answer) {
  if (!api.accepting.load())
    return answer->send(error_response(http::status::service_unavailable, "the service is shutting down"));
  if (!api.ctx.queue.has_room(jobs.size())) {
    const auto counts = api.ctx.queue.counts();
    Response r = error_response(http::status::too_many_requests,
                                "the queue is full: " + std::to_string(counts.waiting) + " jobs wait (--max-queued " +
                                    std::to_string(api.ctx.queue.max_queued()) + ")");
    r.set(http::field::retry_after, std::to_string(api.ctx.queue.retry_after().count()));
    return answer->send(std::move(r));
  }
  api.store.submit(std::move(jobs), [&api, answer, wait, batch](std::vector<std::string> ids, std::string error) {
    if (!error.empty()) return answer->send(error_response(http::status::internal_server_error, error));
    auto accepted = [ids, batch]() {
      json j = batch ? json{{"ids", ids}} : json{{"id", ids[0]}, {"state", "queued"}};
      return json_response(http::status::accepted, j);
    };
    if (wait.count() == 0) return answer->send(accepted());
    wait_all(api.store, ids, wait, [answer, ids, batch, accepted](std::vector<json> records, bool all_done) {
      if (!all_done) return answer->send(accepted());
      answer->send(json_response(http::status::ok, batch ? json{{"jobs", records}} : records[0]));
    });
  });
}

void post_jobs(NativeApi& api, Call& call, ResponderPtr answer) {
  if (!api.accepting.load())
    return answer->send(error_response(http::status::service_unavailable, "the service is shutting down"));
  const milliseconds wait = seconds_param(call, "wait", 0);
  bool batch = false, images = false;
  std::vector<JobRequest> jobs = read_jobs(call.request.body(), api.ctx, batch, images);
  if (!images) return accept_jobs(api, std::move(jobs), batch, wait, answer);
  api.images.prepare(std::move(jobs), batch, api.ctx.policies,
                     [&api, batch, wait, answer](std::vector<JobRequest> jobs, std::exception_ptr error) {
                       try {
                         if (error) std::rethrow_exception(error);
                       } catch (const FieldError& e) {
                         return answer->send(invalid_input(e));
                       } catch (const std::exception& e) {
                         return answer->send(error_response(http::status::internal_server_error,
                                                            std::string("preparing the image: ") + e.what()));
                       }
                       // On the io thread but outside the session's handler: nothing may escape.
                       try {
                         accept_jobs(api, std::move(jobs), batch, wait, answer);
                       } catch (const std::exception& e) {
                         answer->send(error_response(http::status::internal_server_error,
                                                     std::string("internal error: ") + e.what()));
                       }
                     });
}

void get_output(NativeApi& api, Call& call, ResponderPtr answer) {
  const std::string& id = call.params.at("id");
  const JobRecord* r = api.store.find(id);
  if (!r) return answer->send(not_found(id));
  const OutputFilter filter = output_filter_param(call);
  if (api.store.follow_output(id, answer, filter)) return;
  // Stopped by the shutdown: neither running nor done (the journal keeps it for the next start).
  if (!r->result) return answer->send(stopped_by_shutdown(id));
  // Done: what the result kept, stdout first.
  answer->send(text_response(http::status::ok, result_output(*r->result, filter)));
}

void list_jobs(NativeApi& api, Call& call, ResponderPtr answer) {
  std::optional<JobState> state;
  if (auto s = state_param(call)) state = job_state_from_string(*s);
  const size_t limit = limit_param(call);
  bool more = false;
  json jobs = json::array();
  for (const JobRecord* r : api.store.page(state, limit, call.query_value("after").value_or(""), more))
    jobs.push_back(record_json(*r, /*summary=*/true));
  json body{{"jobs", jobs}, {"next", more && !jobs.empty() ? jobs.back()["id"] : json(nullptr)}};
  answer->send(json_response(http::status::ok, body));
}

}  // namespace

void add_native_routes(Router& router, NativeApi api_in) {
  auto api = std::make_shared<NativeApi>(api_in);
  router.add(http::verb::post, "/v1/jobs", checked([api](Call& c, ResponderPtr a) { post_jobs(*api, c, a); }));
  router.add(http::verb::get, "/v1/jobs", checked([api](Call& c, ResponderPtr a) { list_jobs(*api, c, a); }));
  router.add(http::verb::get, "/v1/jobs/{id}", [api](Call& c, ResponderPtr a) {
    const JobRecord* r = api->store.find(c.params.at("id"));
    a->send(r ? json_response(http::status::ok, record_json(*r)) : not_found(c.params.at("id")));
  });
  router.add(http::verb::get, "/v1/jobs/{id}/wait", checked([api](Call& c, ResponderPtr a) {
    const milliseconds timeout = seconds_param(c, "timeout", 30);
    const std::string id = c.params.at("id");
    api->store.wait(id, timeout, [a, id](const JobRecord* r) {
      a->send(r ? json_response(http::status::ok, record_json(*r)) : not_found(id));
    });
  }));
  router.add(http::verb::delete_, "/v1/jobs/{id}", [api](Call& c, ResponderPtr a) {
    const std::string id = c.params.at("id");
    const JobRecord* r = api->store.find(id);
    if (!r) return a->send(not_found(id));
    if (!api->store.cancel(id))  // only a done job, which has its result
      return a->send(error_response(http::status::conflict,
                                    "job " + id + " is already done (" + r->result->value("status", "") + ")", "id"));
    // A queued job ends at once and a running one within a moment (the cell is killed): answer
    // with the result when it is there, with 202 and the state otherwise.
    api->store.wait(id, std::chrono::seconds(10), [a, id](const JobRecord* r) {
      // None: its record went meanwhile (withdrawn after its journal write failed).
      if (!r) return a->send(not_found(id));
      a->send(json_response(r->state == JobState::done ? http::status::ok : http::status::accepted, record_json(*r)));
    });
  });
  router.add(http::verb::get, "/v1/jobs/{id}/output", checked([api](Call& c, ResponderPtr a) { get_output(*api, c, a); }));
  router.add(http::verb::get, "/v1/health", [api](Call&, ResponderPtr a) {
    const auto counts = api->ctx.queue.counts();
    const bool ok = api->accepting.load();
    a->send(json_response(ok ? http::status::ok : http::status::service_unavailable,
                          {{"status", ok ? "ok" : "shutting down"},
                           {"queued", counts.waiting},
                           {"running", counts.running},
                           {"max_queued", api->ctx.queue.max_queued()}}));
  });
}

}  // namespace cellblock::service
