#include "jobs/frontend/output_follow.h"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <memory>
#include <optional>

#include "jobs/dispatch/job_records.h"

namespace cellblock::frontend {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How many entries one poll reads at most; the next poll goes on from there.
constexpr int kEntriesPerPoll = 256;

class Follow : public std::enable_shared_from_this<Follow> {
 public:
  Follow(RedisLane& lane, std::shared_ptr<const void> owner, boost::asio::io_context& io, const QueueKeys& keys,
         std::string id, service::OutputFilter filter, service::ResponderPtr answer)
      : lane_(lane), owner_(std::move(owner)), timer_(io), keys_(keys), id_(std::move(id)), filter_(filter), answer_(std::move(answer)) {}

  void start() {
    answer_->begin_stream(service::output_stream_head());
    poll();
  }

 private:
  // One round trip: the stream's new entries, whether the result is there, and the follow
  // request again while nothing has come yet.
  void poll() {
    if (answer_->client_gone()) return;
    if (refused_) return finish_from_result();
    const bool ask = !got_any_ && Clock::now() >= next_ask_;
    if (ask) next_ask_ = Clock::now() + kRepublish;
    lane_.run(
        [keys = keys_, id = id_, cursor = cursor_, ask](RedisClient& redis) -> json {
          std::vector<Command> commands{
              {"XREAD", "COUNT", std::to_string(kEntriesPerPoll), "STREAMS", keys.output(id), cursor},
              {"EXISTS", keys.result(id)},
              {"EXISTS", keys.job(id)}};
          if (ask) commands.push_back({"PUBLISH", keys.follow, id});
          std::vector<Reply> replies = redis.pipeline_all_ok(commands);
          json entries = json::array();  // [entry id, "run"|"out"|"err"|"end", bytes or the run's tag]
          const redisReply* streams = replies[0].get();
          if (streams->type == REDIS_REPLY_ARRAY && streams->elements == 1) {
            const redisReply* list = streams->element[0]->element[1];
            for (size_t i = 0; i < list->elements; ++i) {
              const redisReply* entry = list->element[i];
              const redisReply* fields = entry->element[1];
              std::string kind = "end", bytes;
              for (size_t f = 0; f + 1 < fields->elements; f += 2) {
                const std::string name = reply_string(fields->element[f]);
                if (name == "s") kind = reply_string(fields->element[f + 1]);
                else if (name == "d") bytes = reply_string(fields->element[f + 1]);
                else if (name == "run") kind = "run", bytes = reply_string(fields->element[f + 1]);
              }
              entries.push_back({reply_string(entry->element[0]), kind, bytes});
            }
          }
          return {{"entries", entries}, {"done", replies[1]->integer == 1}, {"known", replies[2]->integer == 1}};
        },
        [self = shared_from_this()](RedisLane::Outcome o) { self->took(std::move(o)); });
  }

  void took(RedisLane::Outcome o) {
    if (answer_->client_gone()) return;
    if (o.error && o.away) return again(kRepublish);  // Redis away: the client waits; nothing is lost there
    if (o.error) {
      // Refused (the front end's ACL user lacks XREAD, docs/distributed.md): the stream cannot
      // be read, so the client gets the output from the result when the job is done.
      if (!refused_) spdlog::warn("GET /v1/jobs/{}/output: {}; answering from the result when the job is done", id_, *o.error);
      refused_ = true;
      return finish_from_result();
    }
    for (const json& e : o.value["entries"]) {
      cursor_ = e[0].get<std::string>();
      const std::string kind = e[1].get<std::string>();
      if (kind == "end") return answer_->end_stream();
      if (kind == "run") {
        // Another run of the job began (its worker died or stopped, and another runs it from
        // the start). What this client has is the old run's: it ends there; asking again shows
        // the new run.
        if (got_any_ && e[2] != run_) return answer_->end_stream();
        run_ = e[2].get<std::string>();
        continue;
      }
      got_any_ = true;
      const std::string& bytes = e[2].get_ref<const std::string&>();
      const OutputStream stream = kind == "err" ? OutputStream::err : OutputStream::out;
      (stream == OutputStream::out ? sent_out_ : sent_err_) += bytes.size();
      if (filter_.wants(stream) && !bytes.empty()) answer_->write_chunk(bytes);
    }
    if (!o.value["done"].get<bool>() && !o.value["known"].get<bool>()) return answer_->end_stream();  // expired unrun
    if (o.value["done"].get<bool>()) {
      if (!done_since_) done_since_ = Clock::now();
      // Nothing came through the stream: the result has it all. Something did, but no end
      // entry within kEndWait: the relay lost its way to Redis; the result has the rest.
      if (!got_any_ || Clock::now() - *done_since_ >= kEndWait) return finish_from_result();
    }
    again(o.value["entries"].size() == static_cast<size_t>(kEntriesPerPoll) ? std::chrono::milliseconds(0) : kPoll);
  }

  void finish_from_result() {
    lane_.run([keys = keys_, id = id_](RedisClient& redis) { return job_record(redis, keys, id); },
              [self = shared_from_this()](RedisLane::Outcome o) {
                if (o.error) return self->again(kRepublish);
                if (o.value.is_null()) return self->answer_->end_stream();  // expired meanwhile
                if (!o.value.contains("result")) return self->again(kRepublish);  // refused reader: not done yet
                const json& result = o.value["result"];
                std::string rest;
                if (self->filter_.out) rest += result.value("stdout", "").substr(std::min(self->sent_out_, result.value("stdout", "").size()));
                if (self->filter_.err) rest += result.value("stderr", "").substr(std::min(self->sent_err_, result.value("stderr", "").size()));
                if (!rest.empty()) self->answer_->write_chunk(std::move(rest));
                self->answer_->end_stream();
              });
  }

  void again(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->poll();
    });
  }

  RedisLane& lane_;
  std::shared_ptr<const void> owner_;  // the lane's
  boost::asio::steady_timer timer_;
  QueueKeys keys_;
  std::string id_;
  service::OutputFilter filter_;
  service::ResponderPtr answer_;
  std::string cursor_ = "0-0";
  size_t sent_out_ = 0, sent_err_ = 0;  // bytes of each stream that came through the stream
  bool got_any_ = false;
  bool refused_ = false;  // Redis refused XREAD: answer from the result
  std::string run_;       // the run whose output this client gets
  Clock::time_point next_ask_{};
  std::optional<Clock::time_point> done_since_;
};

}  // namespace

void follow_output(RedisLane& lane, std::shared_ptr<const void> owner, boost::asio::io_context& io, const QueueKeys& keys,
                   const std::string& id, service::OutputFilter filter, service::ResponderPtr answer) {
  std::make_shared<Follow>(lane, std::move(owner), io, keys, id, filter, std::move(answer))->start();
}

}  // namespace cellblock::frontend
