// `cellblock serve` through real clients: curl over the unix socket and over TCP with a token,
// Python's http.client (tests/service/scenarios.py). The API is docs/api.md.
#include <gmock/gmock.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/service_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }

// A job that waits until the test creates <gate>/<name>: the test decides when it ends.
json gated(const Scratch& s, const std::string& id, const std::string& name) {
  std::filesystem::create_directories(s.path("gate"));
  return {{"id", id},
          {"command", {"/bin/sh", "-c", "while [ ! -e /gate/" + name + " ]; do sleep 0.02; done"}},
          {"mounts", {{{"source", s.path("gate")}, {"target", "/gate"}}}}};
}

TEST(ServiceApi, CurlOverTheUnixSocketAndOverTcpWithAToken) {
  Scratch s("serve-curl");
  Serve serve(s, "serve", {}, /*tcp=*/true);
  ASSERT_FALSE(serve.tcp_address().empty()) << serve.err();
  // On the socket the file mode is the access control.
  struct stat st {};
  ASSERT_EQ(::stat(serve.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"id": "hello", "command": ["/bin/echo", "hi"]})"},
                       "/v1/jobs?wait=60");
  ASSERT_EQ(ran.code, 200) << ran.body;
  json record = json::parse(ran.body);
  EXPECT_EQ(record["state"], "done");
  EXPECT_EQ(record["attempt"], 1);
  EXPECT_EQ(record["result"]["id"], "hello");
  EXPECT_EQ(record["result"]["status"], "exited");
  EXPECT_EQ(record["result"]["stdout"], "hi\n");
  const std::string id = record["id"];

  // TCP: no token and a wrong one are 401 with a JSON error; the right one is served.
  Http none = curl(s, {serve.tcp_url() + "/v1/jobs/" + id});
  EXPECT_EQ(none.code, 401);
  EXPECT_THAT(none.body, HasSubstr("missing Authorization: Bearer token"));
  EXPECT_THAT(none.headers, HasSubstr("WWW-Authenticate: Bearer"));
  Http wrong = curl(s, {"-H", bearer("not-the-token"), serve.tcp_url() + "/v1/jobs/" + id});
  EXPECT_EQ(wrong.code, 401);
  EXPECT_EQ(json::parse(wrong.body)["error"], "wrong token");
  Http wrong_post = curl(s, {"-H", bearer(std::string(kToken) + "x"), "-X", "POST", "--data-binary",
                             R"({"command": ["/bin/true"]})", serve.tcp_url() + "/v1/jobs"});
  EXPECT_EQ(wrong_post.code, 401);
  Http right = curl(s, {"-H", bearer(kToken), serve.tcp_url() + "/v1/jobs/" + id});
  ASSERT_EQ(right.code, 200) << right.body;
  EXPECT_EQ(json::parse(right.body)["result"]["stdout"], "hi\n");

  // /metrics on the same port: the refusals are counted, the job too, and promtool accepts it.
  Http metrics = curl(s, {"-H", bearer(kToken), serve.tcp_url() + "/metrics"});
  ASSERT_EQ(metrics.code, 200);
  EXPECT_THAT(metrics.headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_http_unauthorized_total 3\n"));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_jobs_total{status=\"exited\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_job_duration_seconds_count 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_http_requests_total{route=\"/v1/jobs/{id}\",code=\"401\"} 2\n"));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_build_info{version=\""));
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_jobs_queued 0\n"));
  const std::string file = s.write("metrics.txt", metrics.body);
  Ran promtool = run_program(s, "promtool", {"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(promtool.code, 0) << promtool.out << promtool.err << metrics.body;

  // /v1/health and /v1/info.
  Http health = curl_unix(s, serve, {}, "/v1/health");
  EXPECT_EQ(health.code, 200);
  EXPECT_EQ(json::parse(health.body)["status"], "ok");
  json info = json::parse(curl_unix(s, serve, {}, "/v1/info").body);
  EXPECT_EQ(info["cgroup_version"], executor().cgroup_version());
  EXPECT_THAT(info["policies"], ::testing::Contains("judge"));
  EXPECT_EQ(info["default_limits"]["memory_bytes"], 536870912);
  EXPECT_GE(info["capacity"]["parallel"], 1);
  EXPECT_EQ(info["capacity"]["max_body_bytes"], 64 << 20);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(), 0) << serve.err();
}

TEST(ServiceApi, BadRequestsGetTheFieldAndTheReason) {
  Scratch s("serve-bad");
  Serve serve(s, "serve", {"--max-body", "64k"});
  // Over the cap: 413, from Content-Length before the body is read, and without one (chunked).
  // The body is far larger than a socket buffer, so curl may still be sending when the answer
  // comes. The service drains the rest before it closes: a close with input unread fails the
  // client's next write, and curl then stops with "broken pipe" (exit 55) and no answer, as it
  // once did here in the slower cgroup v2 VM.
  const std::string big = s.write("big.json", std::string(8 << 20, ' ') + "{}");
  Http over = curl_unix(s, serve, {"-X", "POST", "--data-binary", "@" + big}, "/v1/jobs");
  EXPECT_EQ(over.code, 413);
  EXPECT_THAT(json::parse(over.body)["error"].get<std::string>(), HasSubstr("--max-body (65536 bytes)"));
  Http chunked = curl_unix(s, serve, {"-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + big}, "/v1/jobs");
  EXPECT_EQ(chunked.code, 413) << chunked.body;

  // Malformed JSON: 400, the field is the document ("").
  Http malformed = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"command": ["/bin/true"],)"}, "/v1/jobs");
  ASSERT_EQ(malformed.code, 400);
  json m = json::parse(malformed.body);
  EXPECT_EQ(m["field"], "");
  EXPECT_THAT(m["error"].get<std::string>(), HasSubstr("invalid JSON: parse error at line 1, column 27"));

  // An invalid job: the field, and the very words of `cellblock run`.
  const std::string bad_job = R"({"command": ["/bin/true"], "limits": {"memory_bytes": 1000}})";
  Http invalid = curl_unix(s, serve, {"-X", "POST", "--data-binary", bad_job}, "/v1/jobs");
  ASSERT_EQ(invalid.code, 400);
  json i = json::parse(invalid.body);
  EXPECT_EQ(i["field"], "limits.memory_bytes");
  json with_rootfs = json::parse(bad_job);
  with_rootfs["rootfs"] = kRootfs;
  Ran cli = run_program(s, "cli", {kCellblockBinary, "--state-dir", s.state_dir(), "run", "--job",
                                   s.write("bad.json", with_rootfs.dump())});
  EXPECT_EQ(cli.code, 2);
  EXPECT_EQ(cli.err, "cellblock run: invalid job: " + i["error"].get<std::string>() + "\n");

  // One bad job in a batch: 400 naming it, and nothing of the batch is queued.
  Http batch = curl_unix(s, serve, {"-X", "POST", "--data-binary",
                                    R"({"jobs": [{"command": ["/bin/true"]}, {"command": "true"}]})"}, "/v1/jobs");
  ASSERT_EQ(batch.code, 400);
  EXPECT_EQ(json::parse(batch.body)["field"], "jobs[1].command");
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs").body)["jobs"].size(), 0u);

  // Query values, routes and methods.
  Http wait = curl_unix(s, serve, {"-X", "POST", "--data-binary", R"({"command": ["/bin/true"]})"}, "/v1/jobs?wait=soon");
  EXPECT_EQ(wait.code, 400);
  EXPECT_EQ(json::parse(wait.body)["field"], "wait");
  Http state = curl_unix(s, serve, {}, "/v1/jobs?state=finished");
  EXPECT_EQ(json::parse(state.body)["field"], "state");
  Http route = curl_unix(s, serve, {}, "/v2/jobs");
  EXPECT_EQ(route.code, 404);
  EXPECT_THAT(route.body, HasSubstr("no such route: GET /v2/jobs"));
  Http method = curl_unix(s, serve, {"-X", "PUT"}, "/v1/jobs");
  EXPECT_EQ(method.code, 405);
  EXPECT_THAT(method.headers, HasSubstr("Allow: GET, POST"));
  EXPECT_FALSE(json::parse(method.body)["error"].get<std::string>().empty());
  Http unknown = curl_unix(s, serve, {}, "/v1/jobs/0123456789abcdef");
  EXPECT_EQ(unknown.code, 404);
  EXPECT_EQ(json::parse(unknown.body)["field"], "id");
}

// A client may be an attacker: the host paths its job names (rootfs, mount sources) must lie in
// the directories the operator allows, or {"source": "/", "readonly": false} would hand it the
// host's files; its mounts are read-only and its policy a name. Nothing of a refused job runs;
// jobs that name nothing run in --defaults.
TEST(ServiceApi, AClientsJobMayNameHostPathsOnlyWhereTheOperatorAllows) {
  Scratch s("serve-host-paths");
  Serve serve(s, "serve", {"--allow-host-path", kRootfs});
  auto post_job = [&](const json& job) {
    return curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs?wait=60");
  };
  const json writes_host = {{"command", {"/bin/sh", "-c", "echo x > /host/escaped"}},
                            {"mounts", {{{"source", s.path("")}, {"target", "/host"}, {"readonly", false}}}}};
  Http mount = post_job(writes_host);
  ASSERT_EQ(mount.code, 400) << mount.body;
  EXPECT_EQ(json::parse(mount.body)["field"], "mounts[0].source");
  EXPECT_THAT(json::parse(mount.body)["error"].get<std::string>(), HasSubstr("--allow-host-path"));
  Http root = post_job({{"rootfs", "/"}, {"command", {"/bin/true"}}});
  ASSERT_EQ(root.code, 400) << root.body;
  EXPECT_EQ(json::parse(root.body)["field"], "rootfs");
  // Inside, but writable (the job could leave a symlink there for the next), or a policy file
  // (it could grant any capability): refused too.
  Http writable = post_job({{"command", {"/bin/true"}},
                            {"mounts", {{{"source", std::string(kRootfs) + "/tmp"}, {"target", "/t"}, {"readonly", false}}}}});
  ASSERT_EQ(writable.code, 400) << writable.body;
  EXPECT_EQ(json::parse(writable.body)["field"], "mounts[0].readonly");
  Http policy = post_job({{"command", {"/bin/true"}}, {"policy", std::string(kRootfs) + "/p.json"}});
  ASSERT_EQ(policy.code, 400) << policy.body;
  EXPECT_EQ(json::parse(policy.body)["field"], "policy");
  Http batch = curl_unix(s, serve, {"-X", "POST", "--data-binary",
                                    json{{"jobs", {{{"command", {"/bin/true"}}}, writes_host}}}.dump()}, "/v1/jobs");
  ASSERT_EQ(batch.code, 400) << batch.body;
  EXPECT_EQ(json::parse(batch.body)["field"], "jobs[1].mounts[0].source");
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs").body)["jobs"].size(), 0u) << "nothing was queued";
  EXPECT_FALSE(std::filesystem::exists(s.path("escaped")));
  // Inside the allowed directory, and with nothing named: both run.
  Http named = post_job({{"rootfs", kRootfs}, {"command", {"/bin/true"}}});
  ASSERT_EQ(named.code, 200) << named.body;
  EXPECT_EQ(json::parse(named.body)["result"]["status"], "exited") << named.body;
  Http plain = post_job({{"command", {"/bin/true"}}});
  ASSERT_EQ(plain.code, 200) << plain.body;
  EXPECT_EQ(json::parse(plain.body)["result"]["status"], "exited") << plain.body;
}

TEST(ServiceApi, AFullQueueGets429WithRetryAfter) {
  Scratch s("serve-full");
  Serve serve(s, "serve", {"--parallel", "1", "--max-queued", "1"});
  auto post = [&](const json& job) { return curl_unix(s, serve, {"-X", "POST", "--data-binary", job.dump()}, "/v1/jobs"); };
  Http running = post(gated(s, "running", "open"));
  ASSERT_EQ(running.code, 202) << running.body;
  const std::string id = json::parse(running.body)["id"];
  ASSERT_TRUE(eventually([&] { return json::parse(curl_unix(s, serve, {}, "/v1/jobs/" + id).body)["state"] == "running"; }, 60s));
  Http queued = post({{"command", {"/bin/true"}}});
  EXPECT_EQ(queued.code, 202);
  Http full = post({{"command", {"/bin/true"}}});
  EXPECT_EQ(full.code, 429);
  EXPECT_THAT(full.headers, ::testing::ContainsRegex("Retry-After: [0-9]+"));
  EXPECT_THAT(json::parse(full.body)["error"].get<std::string>(), HasSubstr("the queue is full: 1 jobs wait (--max-queued 1)"));
  std::ofstream(s.path("gate/open")).close();
  Http done = curl_unix(s, serve, {}, "/v1/jobs/" + id + "/wait?timeout=60");
  EXPECT_EQ(json::parse(done.body)["result"]["status"], "exited");
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  return fd;
}

TEST(ServiceApi, ConnectionsOverTheCapGet503) {
  Scratch s("serve-cap");
  Serve serve(s, "serve", {"--max-connections", "2"});
  UniqueFd a(connect_unix(serve.socket())), b(connect_unix(serve.socket()));
  // The server has counted both once it answers on one of them.
  const std::string ask = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(a.get(), ask.data(), ask.size()), static_cast<ssize_t>(ask.size()));
  char buf[4096];
  ASSERT_GT(::read(a.get(), buf, sizeof buf), 0);
  UniqueFd c(connect_unix(serve.socket()));
  std::string answer;
  for (ssize_t n; (n = ::read(c.get(), buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("too many connections (the cap is 2)"));
  // A place frees up when a connection closes.
  a.reset();
  EXPECT_TRUE(eventually([&] { return curl_unix(s, serve, {}, "/v1/health").code == 200; }, 30s));
}

// Out of descriptors, an accept fails while the socket stays ready: the service pauses between
// tries instead of spinning its io thread (which runs the queue too), and serves again once
// descriptors are free. The spin would take about a whole CPU for the second measured here.
TEST(ServiceApi, RunningOutOfDescriptorsPausesAcceptingInsteadOfSpinning) {
  Scratch s("serve-emfile");
  Serve serve(s, "serve", {});
  const pid_t pid = serve.pid();
  size_t open_fds = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)entry;
    ++open_fds;
  }
  struct rlimit before {};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &before), 0);
  const struct rlimit tight {open_fds + 2, before.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 8; ++i) clients.emplace_back(connect_unix(serve.socket()));
  ASSERT_TRUE(eventually([&] { return serve.err().find("accepting again in 100 ms") != std::string::npos; }, 30s))
      << serve.err();
  auto cpu_seconds = [pid] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i)
      if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  };
  const double cpu_before = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(cpu_seconds() - cpu_before, 0.25 * wall) << "the io thread spun on the failed accept";
  clients.clear();
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &before, nullptr), 0);
  EXPECT_TRUE(eventually([&] { return curl_unix(s, serve, {}, "/v1/health").code == 200; }, 30s)) << serve.err();
}

// Nothing reads a connection while its handler waits, so a client that hung up during a long
// poll used to keep its session and its --max-connections slot until the poll ended (here an
// hour). The service looks for the hang-up and gives the slot back within a second.
TEST(ServiceApi, AClientThatHangsUpDuringALongPollGivesItsSlotBack) {
  Scratch s("serve-hangup");
  Serve serve(s, "serve", {"--max-connections", "1"});
  // One request on a connection of its own: the status, or 0 when the connection failed or, for
  // a long poll (`keep`), when no answer came at once and the connection is kept in *keep.
  auto ask = [&](const std::string& request, int* keep = nullptr) {
    UniqueFd fd;
    try {
      fd.reset(connect_unix(serve.socket()));
    } catch (const std::runtime_error&) {
      return 0;
    }
    // A refusal (503) may come, and the server close, before the request is sent: read it all the same.
    const bool sent = ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    if (keep && sent) {
      struct pollfd p {fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 300) == 0) {
        *keep = fd.release();
        return 0;
      }
    }
    char buf[64] = {};
    if (::read(fd.get(), buf, sizeof buf - 1) < 12) return 0;
    return std::atoi(buf + 9);  // "HTTP/1.1 NNN"
  };
  const std::string health = "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  Http posted = curl_unix(s, serve, {"-X", "POST", "--data-binary", json{{"command", {"/bin/sleep", "600"}}}.dump()}, "/v1/jobs");
  ASSERT_EQ(posted.code, 202) << posted.body;
  const std::string id = json::parse(posted.body)["id"];
  // The slot may still be the last connection's for a moment: try until the long poll holds it.
  // The long poll holds the only slot once another connection gets 503. No answer within the
  // poll's 300 ms only says which connection to keep; a late refusal shows as a free slot here,
  // and then it is tried again.
  int waiter = -1;
  ASSERT_TRUE(eventually([&] {
    if (waiter >= 0) ::close(waiter);
    waiter = -1;
    return ask("GET /v1/jobs/" + id + "/wait?timeout=3600 HTTP/1.1\r\nHost: x\r\n\r\n", &waiter) == 0 && ask(health) == 503;
  }, 30s)) << "the long poll never held the slot alone";
  ::close(waiter);  // hangs up
  EXPECT_TRUE(eventually([&] { return ask(health) == 200; }, 10s)) << "the hung-up long poll still holds the slot";
  EXPECT_EQ(curl_unix(s, serve, {"-X", "DELETE"}, "/v1/jobs/" + id).code, 200);
}

TEST(ServiceApi, AThousandJobsOverEightKeepAliveConnectionsEachGetOneResult) {
  Scratch s("serve-load");
  Serve serve(s, "serve", {}, /*tcp=*/true);
  Ran unix_load = scenario(s, "load-unix", {"load", serve.unix_address(), "1000", "8"});
  EXPECT_EQ(unix_load.code, 0) << unix_load.err << serve.err().substr(0, 2000);
  std::printf("[ service  ] over the unix socket: %s", unix_load.out.c_str());
  // The same client over TCP with the token.
  Ran tcp_load = scenario(s, "load-tcp", {"load", serve.tcp_address(), "40", "4", kToken});
  EXPECT_EQ(tcp_load.code, 0) << tcp_load.err;
}

TEST(ServiceApi, CancelWhileQueuedAndWhileRunning) {
  Scratch s("serve-cancel");
  std::filesystem::create_directories(s.path("gate"));
  Serve serve(s, "serve", {"--parallel", "1"});
  Ran r = scenario(s, "cancel", {"cancel", serve.unix_address(), s.path("gate")});
  EXPECT_EQ(r.code, 0) << r.err;
  Http metrics = curl_unix(s, serve, {}, "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("cellblock_jobs_total{status=\"cancelled\"} 2\n"));
}

TEST(ServiceApi, OutputIsStreamedWhileTheJobRuns) {
  Scratch s("serve-stream");
  std::filesystem::create_directories(s.path("gate"));
  Serve serve(s, "serve", {});
  Ran r = scenario(s, "stream", {"stream", serve.unix_address(), s.path("gate")});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(ServiceApi, AClientThatNeverFinishesItsHeaderIsDroppedWhileOthersAreServed) {
  Scratch s("serve-slow");
  Serve serve(s, "serve", {"--header-timeout", "1s"});
  Ran r = scenario(s, "slow", {"slow-headers", serve.unix_address(), "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::printf("[ service  ] %s", r.out.c_str());
  EXPECT_THAT(curl_unix(s, serve, {}, "/metrics").body, HasSubstr("cellblock_http_read_timeouts_total 1\n"));
}

}  // namespace
}  // namespace cellblock::test
