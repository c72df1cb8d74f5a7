// `cellblock serve --redis URL --queue NAME` (jobs/frontend/): the HTTP jobs API as a front end of
// the Redis queue, against a real redis-server (redis_server.h), real `cellblock worker`
// processes and curl. Timeouts only let work finish (calibration.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "jobs/dispatch/queue_keys.h"
#include "tests/integration/batch_test_util.h"
#include "tests/integration/calibration.h"
#include "tests/integration/redis_server.h"
#include "tests/integration/service_test_util.h"

namespace cellblock::test {
namespace {

using std::chrono::milliseconds;
using nlohmann::json;

std::unique_ptr<Spawned> start_worker(const Scratch& s, const RedisServer& redis, const std::string& name,
                                      std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--redis", redis.url(), "--queue", "q", "--name", name, "--defaults", s.defaults()};
  args.insert(args.end(), more.begin(), more.end());
  // As Serve does (service_test_util.h): the tests' jobs may name the test's own directories.
  if (std::find(more.begin(), more.end(), "--allow-host-path") == more.end()) args.insert(args.end(), {"--allow-host-path", "/"});
  return start_cellblock(s, "worker", name, args, s.global_args({"--log-level", "info"}));
}

milliseconds budget(size_t jobs) { return milliseconds(static_cast<int64_t>(60'000 + jobs * 20 * job_ms())); }

Http post(const Scratch& s, const Serve& serve, const json& body, const std::string& query = "") {
  return curl_unix(s, serve, {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body.dump()},
                   "/v1/jobs" + query);
}

TEST(FrontendTest, JobsGoThroughRedisToAWorkerAndBack) {
  Scratch s("frontend-basic");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "2"});
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});

  // One job, waited for in the POST.
  const std::string wait = "?wait=" + std::to_string(budget(1).count() / 1000);
  Http h = post(s, serve, {{"id", "hello"}, {"command", {"/bin/sh", "-c", "echo hi"}}}, wait);
  ASSERT_EQ(h.code, 200) << h.body << worker->err();
  json r = json::parse(h.body);
  EXPECT_EQ(r["state"], "done");
  EXPECT_EQ(r["result"]["status"], "exited");
  EXPECT_EQ(r["result"]["stdout"], "hi\n");
  // Redis has it: the stream entry and the result, written by the worker.
  auto c = redis.client();
  const QueueKeys keys("q");
  EXPECT_EQ(c->command({"XLEN", keys.jobs})->integer, 1);
  EXPECT_EQ(c->command({"EXISTS", keys.result("hello")})->integer, 1);

  // A batch, accepted (202), then each waited for by id.
  h = post(s, serve, {{"jobs", {{{"command", {"/bin/true"}}}, {{"command", {"/bin/false"}}}}}});
  ASSERT_EQ(h.code, 202) << h.body;
  auto ids = json::parse(h.body)["ids"];
  ASSERT_EQ(ids.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    Http w = curl_unix(s, serve, {}, "/v1/jobs/" + ids[i].get<std::string>() + "/wait?timeout=" +
                                         std::to_string(budget(2).count() / 1000));
    ASSERT_EQ(w.code, 200) << w.body;
    json rec = json::parse(w.body);
    EXPECT_EQ(rec["state"], "done") << w.body;
    EXPECT_EQ(rec["result"]["exit_code"], i == 0 ? 0 : 1) << w.body;
  }
  // GET of a done job, an unknown id, a taken id, a bad field, and what a front end cannot do.
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/hello").code, 200);
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/nobody").code, 404);
  h = post(s, serve, {{"id", "hello"}, {"command", {"/bin/true"}}});
  EXPECT_EQ(h.code, 409) << h.body;
  EXPECT_EQ(c->command({"XLEN", keys.jobs})->integer, 3) << "a refused job was added";
  h = post(s, serve, {{"command", {"/bin/true"}}, {"wall_tme", 5}});
  EXPECT_EQ(h.code, 400);
  EXPECT_NE(h.body.find("wall_tme"), std::string::npos) << h.body;
  // A done job's output is its result's, whole; a stream that is not one is named.
  h = curl_unix(s, serve, {}, "/v1/jobs/hello/output");
  EXPECT_EQ(h.code, 200) << h.body;
  EXPECT_EQ(h.body, "hi\n");
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/hello/output?stream=stderr").body, "");
  h = curl_unix(s, serve, {}, "/v1/jobs/hello/output?stream=both-please");
  EXPECT_EQ(h.code, 400) << h.body;
  EXPECT_NE(h.body.find("\"stream\""), std::string::npos) << h.body;
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/jobs/nobody/output").code, 404);
  // Nobody followed these jobs: their output never went to Redis but in their results.
  EXPECT_EQ(c->command({"EXISTS", keys.output("hello")})->integer, 0);
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/health").code, 200);
  // A "priority" picks the stream.
  h = post(s, serve, {{"id", "urgent"}, {"command", {"/bin/true"}}, {"priority", 3}}, wait);
  EXPECT_EQ(h.code, 200) << h.body;
  EXPECT_EQ(c->command({"XLEN", keys.jobs_high})->integer, 1);

  // /metrics: the queue as Redis has it, and promtool accepts the exposition. A duplicate
  // counted by a worker (written here by hand, as a second worker's result would be) shows.
  c->command({"INCR", keys.duplicates});
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = curl_unix(s, serve, {}, "/metrics").body;
    return text.find("cellblock_queue_duplicate_results{queue=\"q\"} 1") != std::string::npos;
  }, budget(0))) << text;
  EXPECT_NE(text.find("cellblock_redis_up{queue=\"q\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("cellblock_queue_waiting_jobs{queue=\"q\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("cellblock_queue_dead_letters{queue=\"q\"} 0"), std::string::npos) << text;
  const std::string file = s.write("metrics.txt", text);
  Ran promtool = run_program(s, "promtool", {"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(promtool.code, 0) << promtool.out << promtool.err;
}

// GET /v1/jobs/{id}/output on a front end streams what the job prints on its worker while it
// runs (tests/service/scenarios.py stream: the first line arrives while the job is running, the
// test then lets it end, and the stream ends with the rest), through NAME:output:<id>; and a
// client that follows a job still queued behind another gets it from its first byte
// (stream-queued, one slot).
TEST(FrontendTest, OutputIsStreamedFromTheWorkerWhileTheJobRuns) {
  Scratch s("frontend-stream");
  std::filesystem::create_directories(s.path("gate"));
  std::filesystem::create_directories(s.path("gate-queued"));
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  Ran r = scenario(s, "stream", {"stream", serve.unix_address(), s.path("gate")});
  EXPECT_EQ(r.code, 0) << r.err << worker->err();
  r = scenario(s, "stream-queued", {"stream-queued", serve.unix_address(), s.path("gate-queued")});
  EXPECT_EQ(r.code, 0) << r.err << worker->err();
  // The worker wrote the followed job's output to its stream, then the end entry, and the
  // stream expires on its own.
  auto c = redis.client();
  const QueueKeys keys("q");
  Reply last = c->command({"XREVRANGE", keys.output("stream"), "+", "-", "COUNT", "1"});
  ASSERT_EQ(last->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(last->elements, 1u) << "no output stream for the followed job";
  const redisReply* fields = last->element[0]->element[1];
  ASSERT_EQ(fields->elements, 2u);
  EXPECT_EQ(reply_string(fields->element[0]), "end");
  const long long ttl = c->command({"TTL", keys.output("stream")})->integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 300);
}

// GET /v1/jobs on a front end: the jobs in the order they were accepted, paged with limit and
// after, by state, as Redis has them (NAME:ids); an id whose job and result expired leaves the
// list when a listing meets it.
TEST(FrontendTest, ListingPagesJobsInTheOrderAcceptedWithTheirStates) {
  Scratch s("frontend-list");
  RedisServer redis(s);
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  auto list = [&](const std::string& query) {
    Http h = curl_unix(s, serve, {}, "/v1/jobs" + query);
    EXPECT_EQ(h.code, 200) << query << " " << h.body;
    return json::parse(h.body);
  };
  auto ids_of = [](const json& page) {
    std::vector<std::string> ids;
    for (const json& j : page["jobs"]) ids.push_back(j["id"]);
    return ids;
  };
  ASSERT_EQ(post(s, serve, {{"jobs", {{{"id", "c1"}, {"command", {"/bin/true"}}}, {{"id", "a2"}, {"command", {"/bin/true"}}}}}}).code, 202);
  ASSERT_EQ(post(s, serve, {{"id", "b3"}, {"command", {"/bin/sh", "-c", "exit 4"}}}).code, 202);
  // No worker yet: all queued, in the order accepted (not by id).
  json page = list("");
  EXPECT_EQ(ids_of(page), (std::vector<std::string>{"c1", "a2", "b3"})) << page;
  EXPECT_TRUE(page["next"].is_null()) << page;
  for (const json& j : page["jobs"]) {
    EXPECT_EQ(j["state"], "queued") << j;
    EXPECT_TRUE(j.contains("submitted_at")) << j;
  }
  page = list("?limit=2");
  EXPECT_EQ(ids_of(page), (std::vector<std::string>{"c1", "a2"})) << page;
  EXPECT_EQ(page["next"], "a2") << page;
  page = list("?limit=2&after=a2");
  EXPECT_EQ(ids_of(page), (std::vector<std::string>{"b3"})) << page;
  EXPECT_TRUE(page["next"].is_null()) << page;
  EXPECT_TRUE(list("?state=done")["jobs"].empty());

  auto worker = start_worker(s, redis, "w");
  ASSERT_TRUE(eventually([&] { return list("?state=done")["jobs"].size() == 3; }, budget(3))) << worker->err();
  page = list("?state=done");
  EXPECT_EQ(ids_of(page), (std::vector<std::string>{"c1", "a2", "b3"})) << page;
  EXPECT_EQ(page["jobs"][2]["status"], "exited") << page;
  EXPECT_EQ(page["jobs"][2]["exit_code"], 4) << page;
  EXPECT_FALSE(page["jobs"][2].contains("result")) << "a listing carries summaries: " << page;
  EXPECT_TRUE(list("?state=queued")["jobs"].empty());

  // a2's keys expire (deleted here as their TTLs would): it is not listed, and leaves NAME:ids.
  auto c = redis.client();
  const QueueKeys keys("q");
  c->command({"DEL", keys.job("a2"), keys.result("a2")});
  EXPECT_EQ(ids_of(list("")), (std::vector<std::string>{"c1", "b3"}));
  EXPECT_TRUE(is_nil(c->command({"ZSCORE", keys.ids, "a2"}).get()));

  // Bad input names the field.
  for (const auto& [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"?after=a2", "after"}, {"?state=sleeping", "state"}, {"?limit=0", "limit"}, {"?limit=many", "limit"}}) {
    Http h = curl_unix(s, serve, {}, "/v1/jobs" + query);
    EXPECT_EQ(h.code, 400) << query << " " << h.body;
    EXPECT_EQ(json::parse(h.body)["field"], field) << query << " " << h.body;
  }
}

// A worker that cannot write the whole of a job's live output (here its ACL user lacks DEL, so
// the relay's first write is refused in part and it writes nothing more for that run, no end
// entry): the follower still gets every byte, the rest from the result once the job is done.
TEST(FrontendTest, OutputTheWorkerCouldNotWriteComesFromTheResult) {
  Scratch s("frontend-stream-broken");
  std::filesystem::create_directories(s.path("gate"));
  RedisServer redis(s);
  redis.client()->command({"ACL", "SETUSER", "nodel", "on", ">npw", "~q:*", "&q:*", "+xreadgroup", "+xautoclaim",
                           "+xclaim", "+xpending", "+xack", "+set", "+xadd", "+publish", "+incr", "+exists", "+eval",
                           "+xread", "+xrevrange", "+xgroup", "+get", "+mget", "+subscribe", "+expire", "+time",
                           "+xtrim"});
  auto worker = start_cellblock(s, "worker", "w",
                                {"--redis", "redis://nodel:npw@127.0.0.1:" + std::to_string(redis.port()), "--queue", "q",
                                 "--name", "w", "--defaults", s.defaults(), "--allow-host-path", "/"},
                                s.global_args({"--log-level", "info"}));
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  Ran r = scenario(s, "stream", {"stream", serve.unix_address(), s.path("gate")});
  EXPECT_EQ(r.code, 0) << r.err << worker->err();
  EXPECT_NE(worker->err().find("live output not written"), std::string::npos) << worker->err();
  // No end entry: the run stopped writing at its first refusal.
  Reply last = redis.client()->command({"XREVRANGE", QueueKeys("q").output("stream"), "+", "-", "COUNT", "1"});
  ASSERT_EQ(last->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(last->elements, 1u);
  EXPECT_NE(reply_string(last->element[0]->element[1]->element[0]), "end");
}

TEST(FrontendTest, DeleteCancelsARunningJobAndAQueuedOne) {
  Scratch s("frontend-cancel");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  ASSERT_EQ(post(s, serve, {{"id", "endless"}, {"command", {"/bin/sleep", "600"}}, {"limits", {{"wall_time_ms", 600'000}}}}).code, 202);
  ASSERT_EQ(post(s, serve, {{"id", "behind"}, {"command", {"/bin/true"}}}).code, 202);
  ASSERT_TRUE(eventually([&] { return json::parse(curl_unix(s, serve, {}, "/v1/jobs/endless").body)["state"] == "running"; },
                         budget(1)))
      << worker->err();
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/endless").body)["worker"], "w");
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/behind").body)["state"], "queued");
  // The queued one first: no worker holds it, so only its mark can stop it when the running one
  // has made room (202: not done yet).
  Http d = curl_unix(s, serve, {"-X", "DELETE"}, "/v1/jobs/behind");
  EXPECT_EQ(d.code, 202) << d.body;
  d = curl_unix(s, serve, {"-X", "DELETE"}, "/v1/jobs/endless");
  EXPECT_EQ(d.code, 200) << d.body;
  for (const char* id : {"endless", "behind"}) {
    Http w = curl_unix(s, serve, {}, std::string("/v1/jobs/") + id + "/wait?timeout=" + std::to_string(budget(2).count() / 1000));
    json rec = json::parse(w.body);
    EXPECT_EQ(rec["state"], "done") << id << w.body << worker->err();
    EXPECT_EQ(rec["result"]["status"], "cancelled") << id << w.body;
  }
  EXPECT_EQ(curl_unix(s, serve, {"-X", "DELETE"}, "/v1/jobs/endless").code, 409);
}

// `cellblock submit` writes NAME:job:<id> as a front end's POST does: any front end answers for
// its jobs while they wait and run, not only once they are done. An id taken already is refused
// alone (an invalid_job line), and the others still go in.
TEST(FrontendTest, JobsSentBySubmitAreQueuedThenRunningThenDoneOnAFrontEnd) {
  Scratch s("frontend-submit");
  RedisServer redis(s);
  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  const std::string jobs = s.write("jobs.jsonl", json{{"id", "long"}, {"command", {"/bin/sleep", "600"}},
                                                      {"limits", {{"wall_time_ms", 600'000}}}}.dump() + "\n" +
                                                     json{{"id", "next"}, {"command", {"/bin/true"}}}.dump() + "\n");
  auto submit = start_cellblock(s, "submit", "submit", {"--redis", redis.url(), "--queue", "q", jobs});
  ASSERT_EQ(submit->wait(budget(0)), 0) << submit->err();
  EXPECT_EQ(json_lines(submit->out()).size(), 2u) << submit->out();
  // No worker yet: both wait in the stream.
  for (const char* id : {"long", "next"}) {
    Http h = curl_unix(s, serve, {}, std::string("/v1/jobs/") + id);
    ASSERT_EQ(h.code, 200) << id << " " << h.body;
    EXPECT_EQ(json::parse(h.body)["state"], "queued") << h.body;
  }
  // One slot: the long job runs and the other waits behind it.
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  ASSERT_TRUE(eventually([&] { return json::parse(curl_unix(s, serve, {}, "/v1/jobs/long").body)["state"] == "running"; },
                         budget(1)))
      << worker->err();
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/long").body)["worker"], "w");
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/next").body)["state"], "queued");

  // The same id again, beside a new one: the taken one is refused alone, and nothing of it is added.
  auto c = redis.client();
  const long long entries = c->command({"XLEN", QueueKeys("q").jobs})->integer;
  const std::string again = s.write("again.jsonl", json{{"id", "next"}, {"command", {"/bin/false"}}}.dump() + "\n" +
                                                       json{{"id", "new"}, {"command", {"/bin/true"}}}.dump() + "\n");
  auto resubmit = start_cellblock(s, "submit", "resubmit", {"--redis", redis.url(), "--queue", "q", again});
  ASSERT_EQ(resubmit->wait(budget(0)), 0) << resubmit->err();
  const auto lines = json_lines(resubmit->out());
  ASSERT_EQ(lines.size(), 2u) << resubmit->out();
  EXPECT_EQ(lines[0]["id"], "next") << resubmit->out();
  EXPECT_EQ(lines[0]["status"], "invalid_job") << resubmit->out();
  EXPECT_NE(lines[0]["error"].get<std::string>().find("taken"), std::string::npos) << resubmit->out();
  EXPECT_EQ(lines[1]["id"], "new") << resubmit->out();
  EXPECT_EQ(c->command({"XLEN", QueueKeys("q").jobs})->integer, entries + 1);

  // Cancelled, the long job is done; then the one behind it runs and is done too.
  auto cancel = start_cellblock(s, "submit", "cancel", {"--redis", redis.url(), "--queue", "q", "--cancel", "long"});
  ASSERT_EQ(cancel->wait(budget(0)), 0) << cancel->err();
  for (const char* id : {"long", "next", "new"}) {
    Http w = curl_unix(s, serve, {}, std::string("/v1/jobs/") + id + "/wait?timeout=" + std::to_string(budget(3).count() / 1000));
    ASSERT_EQ(w.code, 200) << id << " " << w.body;
    json rec = json::parse(w.body);
    EXPECT_EQ(rec["state"], "done") << id << " " << w.body << worker->err();
    EXPECT_EQ(rec["result"]["status"], std::string(id) == "long" ? "cancelled" : "exited") << id << " " << w.body;
  }
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/next").body)["result"]["exit_code"], 0) << "the first job of id next ran, not the refused one";
}

// A worker whose user may read jobs but not write results (here: no SET, the result script's
// first write) must not hold its jobs forever, heartbeating them so that no other worker takes
// them: it stops with one line naming the list, and the job stays pending for another worker.
TEST(FrontendTest, AWorkerWhoseUserMayNotWriteResultsStopsAndLeavesItsJobPending) {
  Scratch s("frontend-acl-results");
  RedisServer redis(s);
  auto admin = redis.client();
  admin->command({"ACL", "SETUSER", "noset", "on", ">npw", "~q:*", "&q:*", "+xreadgroup", "+xautoclaim", "+xclaim",
                  "+xpending", "+xack", "+publish", "+xadd", "+incr", "+exists", "+eval", "+xread", "+xrevrange", "+xgroup",
                  "+get", "+mget", "+subscribe", "+expire", "+del"});
  auto worker = start_cellblock(s, "worker", "noset",
                                {"--redis", "redis://noset:npw@127.0.0.1:" + std::to_string(redis.port()), "--queue", "q",
                                 "--name", "w", "--defaults", s.defaults()},
                                s.global_args({"--log-level", "info"}));
  auto submit = start_cellblock(s, "submit", "submit",
                                {"--redis", redis.url(), "--queue", "q", s.write("one.jsonl", R"({"id":"one","command":["/bin/true"]})" "\n")});
  ASSERT_EQ(submit->wait(budget(0)), 0) << submit->err();
  EXPECT_EQ(worker->wait(budget(1)), 1) << worker->err();
  EXPECT_NE(worker->err().find("docs/distributed.md"), std::string::npos) << worker->err();
  EXPECT_NE(worker->err().find("writing the result of job one"), std::string::npos) << "the refusal was the writer's: " << worker->err();
  Reply pending = admin->command({"XPENDING", QueueKeys("q").jobs, "workers"});
  ASSERT_EQ(pending->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(pending->element[0]->integer, 1) << "the job is left for another worker; " << worker->err();
  Reply result = admin->command({"GET", QueueKeys("q").result("one")});
  EXPECT_TRUE(is_nil(result.get())) << "no result was written: " << reply_string(result.get());
}

// The ACL users docs/distributed.md gives (its "Security" section): a worker, and submitters and
// front ends, each allowed only the commands listed there, serve the queue end to end; a user
// without the worker's commands cannot be a worker (the ACL is really in force).
TEST(FrontendTest, AclUsersWithTheDocumentedCommandsServeTheQueue) {
  Scratch s("frontend-acl");
  RedisServer redis(s);
  auto admin = redis.client();
  admin->command({"ACL", "SETUSER", "worker", "on", ">wpw", "~q:*", "&q:*", "+xreadgroup", "+xautoclaim", "+xclaim",
                  "+xpending", "+xack", "+set", "+xadd", "+publish", "+incr", "+exists", "+eval", "+xread", "+xrevrange", "+xgroup",
                  "+get", "+mget", "+subscribe", "+expire", "+del", "+xtrim", "+time"});
  admin->command({"ACL", "SETUSER", "front", "on", ">fpw", "~q:*", "&q:*", "+eval", "+xadd", "+hset", "+expire", "+exists",
                  "+mget", "+get", "+hmget", "+xpending", "+set", "+publish", "+subscribe", "+xinfo", "+xrange", "+xlen",
                  "+ping", "+xread", "+zadd", "+zremrangebyscore", "+zscore", "+zrange", "+zrem", "+incr", "+time"});
  const std::string at = "@127.0.0.1:" + std::to_string(redis.port());
  const std::string worker_url = "redis://worker:wpw" + at, front_url = "redis://front:fpw" + at;

  // A submitter's user is no worker: it may not make the group.
  auto not_worker = start_cellblock(s, "worker", "not-worker",
                                    {"--redis", front_url, "--queue", "q", "--name", "x", "--defaults", s.defaults()});
  EXPECT_NE(not_worker->wait(budget(0)), 0) << not_worker->err();
  EXPECT_NE(not_worker->err().find("NOPERM"), std::string::npos) << not_worker->err();
  // A worker's user without a command it needs only after it has started (here EVAL, which the
  // reads use): one line and a non-zero exit, not endless retries.
  admin->command({"ACL", "SETUSER", "noeval", "on", ">npw", "~q:*", "&q:*", "+xreadgroup", "+xautoclaim", "+xclaim",
                  "+xpending", "+xack", "+set", "+xadd", "+publish", "+incr", "+exists", "+xread", "+xrevrange",
                  "+xgroup", "+get", "+mget", "+subscribe"});
  auto no_eval = start_cellblock(s, "worker", "no-eval",
                                 {"--redis", "redis://noeval:npw" + at, "--queue", "q", "--name", "x", "--defaults", s.defaults()});
  EXPECT_EQ(no_eval->wait(budget(0)), 1) << no_eval->err();
  EXPECT_NE(no_eval->err().find("NOPERM"), std::string::npos) << no_eval->err();
  EXPECT_NE(no_eval->err().find("docs/distributed.md"), std::string::npos) << no_eval->err();
  // The same for a command the read script runs (XREVRANGE): Redis words that refusal differently
  // and, in 7.0, without naming the command; the line points to the list.
  admin->command({"ACL", "SETUSER", "norev", "on", ">rpw", "~q:*", "&q:*", "+xreadgroup", "+xautoclaim", "+xclaim",
                  "+xpending", "+xack", "+set", "+xadd", "+publish", "+incr", "+exists", "+eval", "+xread", "+xgroup",
                  "+get", "+mget", "+subscribe"});
  auto no_rev = start_cellblock(s, "worker", "no-rev",
                                {"--redis", "redis://norev:rpw" + at, "--queue", "q", "--name", "y", "--defaults", s.defaults()});
  EXPECT_EQ(no_rev->wait(budget(0)), 1) << no_rev->err();
  EXPECT_NE(no_rev->err().find("docs/distributed.md"), std::string::npos) << no_rev->err();
  EXPECT_EQ(no_rev->err().find("NOPERM"), std::string::npos) << "this refusal comes from inside the script: " << no_rev->err();

  // --claim-idle 1s: heartbeats (XCLAIM) every 250 ms, while job "a" runs a second.
  std::vector<std::string> args{"--redis", worker_url, "--queue", "q", "--name", "w", "--defaults", s.defaults(),
                                "--claim-idle", "1s", "--allow-host-path", "/"};
  auto worker = start_cellblock(s, "worker", "w", args, s.global_args({"--log-level", "info"}));
  Serve serve(s, "serve", {"--redis", front_url, "--queue", "q"});
  const std::string jobs = s.write("jobs.jsonl", json{{"id", "a"}, {"command", {"/bin/sleep", "1"}}}.dump() + "\n" +
                                                     json{{"id", "b"}, {"command", {"/bin/sh", "-c", "exit 3"}}}.dump() + "\n");
  auto submit = start_cellblock(s, "submit", "submit", {"--redis", front_url, "--queue", "q", "--wait", jobs});
  ASSERT_EQ(submit->wait(budget(2)), 0) << submit->err() << worker->err();
  const auto lines = json_lines(submit->out());
  ASSERT_EQ(lines.size(), 2u) << submit->out();
  for (const auto& r : lines) EXPECT_EQ(r["status"], "exited") << r.dump();

  Http h = post(s, serve, {{"id", "c"}, {"command", {"/bin/true"}}}, "?wait=" + std::to_string(budget(1).count() / 1000));
  ASSERT_EQ(h.code, 200) << h.body << worker->err();
  EXPECT_EQ(json::parse(h.body)["result"]["exit_code"], 0) << h.body;
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/b").body)["result"]["exit_code"], 3);
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/health").code, 200);
  // Listing, as the front end's user: every job of this test so far, done.
  Http listed = curl_unix(s, serve, {}, "/v1/jobs?state=done");
  ASSERT_EQ(listed.code, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["jobs"].size(), 3u) << listed.body;
  // Live output, the worker writing it and the front end reading it as these users.
  std::filesystem::create_directories(s.path("gate"));
  Ran streamed = scenario(s, "stream", {"stream", serve.unix_address(), s.path("gate")});
  EXPECT_EQ(streamed.code, 0) << streamed.err << worker->err();
  std::string text;
  EXPECT_TRUE(eventually([&] {
    text = curl_unix(s, serve, {}, "/metrics").body;
    return text.find("cellblock_queue_dead_letters{queue=\"q\"} 0") != std::string::npos &&
           text.find("cellblock_redis_up{queue=\"q\"} 1") != std::string::npos;
  }, budget(0))) << text;
  auto cancel = start_cellblock(s, "submit", "cancel", {"--redis", front_url, "--queue", "q", "--cancel", "nobody"});
  EXPECT_EQ(cancel->wait(budget(0)), 0) << cancel->err();
  worker->signal(SIGTERM);
  EXPECT_EQ(worker->wait(budget(0)), 0) << worker->err();
  EXPECT_EQ(worker->err().find("NOPERM"), std::string::npos) << worker->err();
}

TEST(FrontendTest, RedisAwayIs503WithRetryAfterAndWrongPasswordOneLine) {
  Scratch s("frontend-away");
  RedisServer redis(s, "right");
  std::string wrong = "redis://:wrong@127.0.0.1:" + std::to_string(redis.port());
  auto refused = start_cellblock(s, "serve", "refused",
                                 {"--unix", s.path("refused.sock"), "--redis", wrong, "--queue", "q"});
  EXPECT_EQ(refused->wait(budget(0)), 1);
  const std::string said = refused->err();
  EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 1) << said;
  EXPECT_NE(said.find("AUTH"), std::string::npos) << said;

  Serve serve(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  ASSERT_EQ(post(s, serve, {{"id", "a"}, {"command", {"/bin/true"}}}).code, 202);
  // Redis goes away: a POST is refused with 503 and Retry-After, and nothing was accepted.
  redis.stop();
  Http h = post(s, serve, {{"id", "b"}, {"command", {"/bin/true"}}});
  EXPECT_EQ(h.code, 503) << h.body;
  EXPECT_NE(h.headers.find("Retry-After"), std::string::npos) << h.headers;
  EXPECT_EQ(curl_unix(s, serve, {}, "/v1/health").code, 503);
  EXPECT_NE(curl_unix(s, serve, {}, "/metrics").body.find("cellblock_redis_up{queue=\"q\"} 0"), std::string::npos);
  redis.restart();
  auto c = redis.client();
  EXPECT_EQ(c->command({"EXISTS", QueueKeys("q").job("b")})->integer, 0);
  EXPECT_EQ(c->command({"EXISTS", QueueKeys("q").job("a")})->integer, 1) << "the AOF kept the accepted job";
  // Back: accepted again.
  EXPECT_EQ(post(s, serve, {{"id", "b"}, {"command", {"/bin/true"}}}).code, 202);

  // Up but unable to serve anyone: a script past its time limit gets every other client BUSY (as a
  // restarted server reading its AOF answers LOADING). That is Redis away too: 503, not a 500.
  c->command({"CONFIG", "SET", "busy-reply-threshold", "100"});
  auto stuck = redis.client();
  std::thread script([&stuck] {
    try {
      stuck->command({"EVAL", "while true do end", "0"});
    } catch (const RedisError&) {  // ended by SCRIPT KILL
    }
  });
  // Busy once another client hears BUSY (however long the machine takes to get there).
  ASSERT_TRUE(eventually([&] {
    try {
      c->command({"PING"});
      return false;
    } catch (const RedisError& e) {
      return std::string(e.what()).find("BUSY") != std::string::npos;
    }
  }, budget(0)));
  Http busy = post(s, serve, {{"id", "c"}, {"command", {"/bin/true"}}});
  EXPECT_EQ(busy.code, 503) << busy.body;
  EXPECT_NE(busy.body.find("BUSY"), std::string::npos) << busy.body;
  EXPECT_NE(busy.headers.find("Retry-After"), std::string::npos) << busy.headers;
  c->command({"SCRIPT", "KILL"});
  script.join();
  EXPECT_EQ(post(s, serve, {{"id", "c"}, {"command", {"/bin/true"}}}).code, 202);
}

TEST(FrontendTest, TwoFrontEndsAndTwoWorkersServeOneStream) {
  Scratch s("frontend-two"), t("frontend-two-b");  // a scratch each: each front end has its socket and state
  RedisServer redis(s);
  auto w1 = start_worker(s, redis, "w1", {"--parallel", "2"});
  auto w2 = start_worker(t, redis, "w2", {"--parallel", "2"});
  Serve a(s, "serve", {"--redis", redis.url(), "--queue", "q"});
  Serve b(t, "serve", {"--redis", redis.url(), "--queue", "q"});
  constexpr int kJobs = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) {
    const Serve& via = i % 2 ? b : a;
    const Scratch& sc = i % 2 ? t : s;
    Http h = post(sc, via, {{"command", {"/bin/sh", "-c", "echo " + std::to_string(i)}}});
    ASSERT_EQ(h.code, 202) << h.body;
    ids.push_back(json::parse(h.body)["id"]);
  }
  // Each result asked for at the front end that did not take the job.
  for (int i = 0; i < kJobs; ++i) {
    const Serve& other = i % 2 ? a : b;
    const Scratch& sc = i % 2 ? s : t;
    Http w = curl_unix(sc, other, {}, "/v1/jobs/" + ids[i] + "/wait?timeout=" + std::to_string(budget(kJobs).count() / 1000));
    ASSERT_EQ(w.code, 200) << w.body;
    json rec = json::parse(w.body);
    EXPECT_EQ(rec["state"], "done") << w.body;
    EXPECT_EQ(rec["result"]["stdout"], std::to_string(i) + "\n") << w.body;
  }
  auto c = redis.client();
  const QueueKeys keys("q");
  EXPECT_EQ(c->command({"XLEN", keys.results})->integer, kJobs);
  EXPECT_EQ(c->command({"EXISTS", keys.duplicates})->integer, 0);
  // Both workers ran jobs (each reads only as many as it has free slots, so neither takes all).
  EXPECT_NE(w1->err().find("started"), std::string::npos) << w1->err();
  EXPECT_NE(w2->err().find("started"), std::string::npos) << w2->err();
}

}  // namespace
}  // namespace cellblock::test
