#include "jobs/frontend/redis_frontend.h"

#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include "jobs/dispatch/job_records.h"
#include "jobs/dispatch/queue_keys.h"
#include "jobs/format/job_json.h"
#include "jobs/format/json_reader.h"
#include "jobs/frontend/done_listener.h"
#include "jobs/frontend/output_follow.h"
#include "jobs/frontend/redis_lane.h"
#include "jobs/service/route_helpers.h"

namespace cellblock::frontend {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using service::Call;
using service::ResponderPtr;
using service::Response;
namespace http = service::http;

// How long a DELETE waits for the cancelled job's result before it answers 202.
constexpr auto kCancelWait = std::chrono::seconds(10);

// "job-<16 hex>": unique across front ends without asking Redis (the accept script refuses a
// taken id anyway).
std::string new_job_id() {
  static std::mt19937_64 random{std::random_device{}()};
  std::ostringstream hex;
  hex << "job-" << std::hex << random();
  return hex.str();
}

Response not_found(const std::string& id) {
  return service::error_response(http::status::not_found, "no job with id " + json_quoted(id) + " in this queue", "id");
}

class Frontend : public std::enable_shared_from_this<Frontend> {
 public:
  Frontend(service::ServiceContext& ctx, FrontendOptions options)
      : ctx_(ctx), options_(std::move(options)), keys_(options_.queue), lane_(options_.redis, ctx.io) {}

  void start() {
    std::weak_ptr<Frontend> weak = weak_from_this();
    add_metrics();
    listener_ = std::make_unique<DoneListener>(
        options_.redis, keys_.done, ctx_.io,
        [weak](const std::string& id) {
          if (auto self = weak.lock()) self->wake(id);
        },
        [weak] {
          if (auto self = weak.lock()) self->wake_all();
        });
  }

  void post_jobs(Call& call, ResponderPtr answer) {
    const milliseconds wait = service::seconds_param(call, "wait", 0);
    bool batch = false;
    std::vector<NewJob> jobs;
    service::for_each_job(call.request.body(), batch, [&](const json& j) {
      // Read as strictly as on a worker, so a bad field is named here, now; the worker reads the
      // job again with its own host's --defaults and policies.
      ctx_.client_paths.check(j);  // the worker checks again, with its own host's --allow-host-path
      const JobRequest request = request_from_json(j, ctx_.defaults);
      json job = j;
      if (!job.contains("id")) job["id"] = new_job_id();
      jobs.push_back({job["id"].get<std::string>(), keys_.stream_for(request.priority), job.dump()});
    });
    std::vector<std::string> ids;
    for (const NewJob& j : jobs) ids.push_back(j.id);
    auto self = shared_from_this();
    lane_.run(
        [keys = keys_, jobs = std::move(jobs), ttl = options_.job_ttl](RedisClient& redis) -> json {
          auto taken = accept_jobs(redis, keys, jobs, ttl);
          return taken ? json(*taken) : json(nullptr);
        },
        [self, answer, ids, batch, wait](RedisLane::Outcome o) {
          if (o.error) return answer->send(self->redis_error(o));
          if (o.value.is_string())
            return answer->send(service::error_response(
                http::status::conflict,
                "job id " + json_quoted(o.value.get<std::string>()) +
                    " is taken: a job with this id was accepted already (results are kept by id); nothing was added",
                "id"));
          json accepted = batch ? json{{"ids", ids}} : json{{"id", ids[0]}, {"state", "queued"}};
          if (wait.count() == 0) return answer->send(service::json_response(http::status::accepted, accepted));
          self->wait_all(ids, wait, [answer, batch, accepted](std::vector<json> records, bool all_done) {
            if (!all_done) return answer->send(service::json_response(http::status::accepted, accepted));
            answer->send(service::json_response(http::status::ok, batch ? json{{"jobs", records}} : records[0]));
          });
        });
  }

  void get_job(const std::string& id, ResponderPtr answer) {
    fetch(id, [self = shared_from_this(), answer, id](RedisLane::Outcome o) {
      if (o.error) return answer->send(self->redis_error(o));
      answer->send(o.value.is_null() ? not_found(id) : service::json_response(http::status::ok, o.value));
    });
  }

  void wait_job(const std::string& id, milliseconds timeout, ResponderPtr answer) {
    wait(id, timeout, [self = shared_from_this(), answer, id](RedisLane::Outcome o) {
      if (o.error) return answer->send(self->redis_error(o));
      answer->send(o.value.is_null() ? not_found(id) : service::json_response(http::status::ok, o.value));
    });
  }

  void cancel_job(const std::string& id, ResponderPtr answer) {
    auto self = shared_from_this();
    fetch(id, [self, answer, id](RedisLane::Outcome o) {
      if (o.error) return answer->send(self->redis_error(o));
      if (o.value.is_null()) return answer->send(not_found(id));
      if (o.value["state"] == "done")
        return answer->send(service::error_response(
            http::status::conflict, "job " + id + " is already done (" + o.value["result"].value("status", "") + ")", "id"));
      self->lane_.run(
          [keys = self->keys_, id, ttl = self->options_.job_ttl](RedisClient& redis) -> json {
            request_cancel(redis, keys, id, ttl);
            return nullptr;
          },
          [self, answer, id](RedisLane::Outcome sent) {
            if (sent.error) return answer->send(self->redis_error(sent));
            // A job no worker holds ends when one reads it; a running one within a moment.
            self->wait(id, kCancelWait, [self, answer](RedisLane::Outcome o) {
              if (o.error) return answer->send(self->redis_error(o));
              answer->send(service::json_response(o.value.value("state", "") == "done" ? http::status::ok : http::status::accepted,
                                                  o.value));
            });
          });
    });
  }

  void list(Call& call, ResponderPtr answer) {
    const std::optional<std::string> state = service::state_param(call);
    const size_t limit = service::limit_param(call);
    const std::string after = call.query_value("after").value_or("");
    lane_.run(
        [keys = keys_, state, limit, after](RedisClient& redis) -> json {
          try {
            JobPage page = list_jobs(redis, keys, state, limit, after);
            return {{"jobs", std::move(page.jobs)}, {"next", page.next ? json(*page.next) : json(nullptr)}};
          } catch (const FieldError& e) {
            return {{"bad_field", e.field()}, {"reason", e.reason()}};
          }
        },
        [self = shared_from_this(), answer](RedisLane::Outcome o) {
          if (o.error) return answer->send(self->redis_error(o));
          if (o.value.contains("bad_field"))
            return answer->send(service::invalid_input(FieldError(o.value["bad_field"], o.value["reason"])));
          answer->send(service::json_response(http::status::ok, o.value));
        });
  }

  void get_output(Call& call, ResponderPtr answer) {
    const std::string id = call.params.at("id");
    const service::OutputFilter filter = service::output_filter_param(call);
    fetch(id, [self = shared_from_this(), answer, id, filter](RedisLane::Outcome o) {
      if (o.error) return answer->send(self->redis_error(o));
      if (o.value.is_null()) return answer->send(not_found(id));
      if (o.value["state"] == "done")
        return answer->send(service::text_response(http::status::ok, service::result_output(o.value["result"], filter)));
      follow_output(self->lane_, self, self->ctx_.io, self->keys_, id, filter, answer);
    });
  }

  void health(ResponderPtr answer) {
    lane_.run([](RedisClient& redis) -> json { return reply_string(redis.command({"PING"}).get()); },
              [self = shared_from_this(), answer](RedisLane::Outcome o) {
                if (o.error) return answer->send(self->redis_error(o));
                answer->send(service::json_response(
                    http::status::ok, {{"status", "ok"}, {"redis", self->options_.redis.display()}, {"queue", self->options_.queue}}));
              });
  }

 private:
  // The queue as /metrics shows it, read from Redis every kStatsEvery (a scrape must not wait
  // for Redis): depth and lag from XINFO GROUPS, dead letters, duplicates; and whether Redis
  // answers.
  static constexpr auto kStatsEvery = std::chrono::seconds(2);
  void add_metrics() {
    metrics::Registry& m = ctx_.metrics;
    const std::vector<std::string> label{"queue"};
    const metrics::LabelValues value{options_.queue};
    m.gauge_fn("cellblock_redis_up", "Whether the queue's Redis answered the front end's last command (1) or not (0)",
               [this] { return lane_.up() ? 1.0 : 0.0; }, label, value);
    auto gauge = [&](const char* name, const char* help) { return &m.gauge(name, help, label).with(value); };
    waiting_ = gauge("cellblock_queue_waiting_jobs", "Jobs in the stream that no worker has read yet (XINFO GROUPS lag)");
    pending_ = gauge("cellblock_queue_running_jobs", "Jobs read by a worker and not yet acked (XPENDING): running");
    oldest_ = gauge("cellblock_queue_oldest_waiting_seconds", "Age of the oldest job no worker has read yet");
    dead_ = gauge("cellblock_queue_dead_letters", "Entries of NAME:dead: jobs given up after --max-deliveries");
    duplicates_ = gauge("cellblock_queue_duplicate_results",
                        "Results computed again for a job that had one (NAME:duplicates): at-least-once at work");
    stats_timer_ = std::make_unique<boost::asio::steady_timer>(ctx_.io);
    refresh_stats();
  }

  void refresh_stats() {
    lane_.run(
        [keys = keys_](RedisClient& redis) -> json {
          QueueStats q = queue_stats(redis, keys);
          return {q.waiting, q.pending, q.oldest_waiting_s, q.dead, q.duplicates};
        },
        [weak = weak_from_this()](RedisLane::Outcome o) {
          auto self = weak.lock();
          if (!self) return;
          if (!o.error) {
            metrics::Gauge* gauges[] = {self->waiting_, self->pending_, self->oldest_, self->dead_, self->duplicates_};
            for (size_t i = 0; i < 5; ++i) gauges[i]->set(o.value[i].get<double>());
          }
          self->stats_timer_->expires_after(kStatsEvery);
          self->stats_timer_->async_wait([weak](const boost::system::error_code& ec) {
            if (auto self = weak.lock(); self && !ec) self->refresh_stats();
          });
        });
  }

  struct Waiter {
    explicit Waiter(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    std::function<void(RedisLane::Outcome)> then;
    bool fired = false;
  };

  // 503 with Retry-After while Redis is away (the client tries again; nothing was accepted),
  // 500 when Redis refused a command.
  Response redis_error(const RedisLane::Outcome& o) const {
    if (!o.away) return service::error_response(http::status::internal_server_error, "Redis refused: " + *o.error);
    Response r = service::error_response(http::status::service_unavailable,
                                         "the queue's Redis is not reachable (" + *o.error + "); nothing was done, try again");
    r.set(http::field::retry_after, "1");
    return r;
  }

  void fetch(const std::string& id, std::function<void(RedisLane::Outcome)> then) {
    lane_.run([keys = keys_, id](RedisClient& redis) { return job_record(redis, keys, id); }, std::move(then));
  }

  // Calls `then` once: with the record when the job is done (now, or when NAME:done says so),
  // or with the record as it is when `timeout` passes; null record for an unknown id.
  void wait(const std::string& id, milliseconds timeout, std::function<void(RedisLane::Outcome)> then) {
    auto w = std::make_shared<Waiter>(ctx_.io);
    w->then = std::move(then);
    waiters_.emplace(id, w);
    std::weak_ptr<Frontend> weak = weak_from_this();
    w->timer.expires_after(timeout);
    w->timer.async_wait([weak, w, id](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || w->fired) return;
      self->fetch(id, [self, w](RedisLane::Outcome o) { self->fire(w, std::move(o)); });
    });
    // Registered first, then looked at: a result that lands in between is not missed.
    fetch(id, [self = shared_from_this(), w](RedisLane::Outcome o) {
      if (o.error || o.value.is_null() || o.value["state"] == "done") self->fire(w, std::move(o));
    });
  }

  void wait_all(const std::vector<std::string>& ids, milliseconds timeout,
                std::function<void(std::vector<json> records, bool all_done)> then) {
    service::gather_records(
        ids.size(),
        [this, &ids, timeout](size_t i, service::GiveRecord give) {
          wait(ids[i], timeout, [give](RedisLane::Outcome o) {
            json record = o.error ? json{{"error", *o.error}} : o.value;
            const bool done = !o.error && record.value("state", "") == "done";
            give(std::move(record), done);
          });
        },
        std::move(then));
  }

  void fire(const std::shared_ptr<Waiter>& w, RedisLane::Outcome o) {
    if (w->fired) return;
    w->fired = true;
    w->timer.cancel();
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
      if (it->second == w) {
        waiters_.erase(it);
        break;
      }
    w->then(std::move(o));
  }

  // NAME:done said the job has its result: one read for all who wait for it.
  void wake(const std::string& id) {
    if (waiters_.find(id) == waiters_.end()) return;
    fetch(id, [self = shared_from_this(), id](RedisLane::Outcome o) {
      if (o.error || o.value.is_null() || o.value["state"] != "done") return;
      std::vector<std::shared_ptr<Waiter>> woken;
      for (auto [it, end] = self->waiters_.equal_range(id); it != end; ++it) woken.push_back(it->second);
      for (const auto& w : woken) self->fire(w, o);
    });
  }

  // Subscribed (again): what was published while we were not is lost, so look at every job
  // someone waits for.
  void wake_all() {
    std::set<std::string> ids;
    for (const auto& [id, w] : waiters_) ids.insert(id);
    for (const auto& id : ids) wake(id);
  }

  service::ServiceContext& ctx_;
  FrontendOptions options_;
  QueueKeys keys_;
  RedisLane lane_;
  std::multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // by job id; io thread only
  std::unique_ptr<DoneListener> listener_;
  std::unique_ptr<boost::asio::steady_timer> stats_timer_;
  metrics::Gauge* waiting_ = nullptr;
  metrics::Gauge* pending_ = nullptr;
  metrics::Gauge* oldest_ = nullptr;
  metrics::Gauge* dead_ = nullptr;
  metrics::Gauge* duplicates_ = nullptr;
};

}  // namespace

void add_redis_frontend(service::Router& router, service::ServiceContext& ctx, FrontendOptions options) {
  auto fe = std::make_shared<Frontend>(ctx, std::move(options));
  fe->start();
  using service::checked;
  router.add(http::verb::post, "/v1/jobs", checked([fe](Call& c, ResponderPtr a) { fe->post_jobs(c, a); }));
  router.add(http::verb::get, "/v1/jobs/{id}", [fe](Call& c, ResponderPtr a) { fe->get_job(c.params.at("id"), a); });
  router.add(http::verb::get, "/v1/jobs/{id}/wait", checked([fe](Call& c, ResponderPtr a) {
    fe->wait_job(c.params.at("id"), service::seconds_param(c, "timeout", 30), a);
  }));
  router.add(http::verb::delete_, "/v1/jobs/{id}", [fe](Call& c, ResponderPtr a) { fe->cancel_job(c.params.at("id"), a); });
  router.add(http::verb::get, "/v1/health", [fe](Call&, ResponderPtr a) { fe->health(a); });
  router.add(http::verb::get, "/v1/jobs", checked([fe](Call& c, ResponderPtr a) { fe->list(c, a); }));
  router.add(http::verb::get, "/v1/jobs/{id}/output", checked([fe](Call& c, ResponderPtr a) { fe->get_output(c, a); }));
}

}  // namespace cellblock::frontend
