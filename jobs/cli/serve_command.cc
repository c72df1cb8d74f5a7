#include "jobs/cli/serve_command.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <thread>

#include "jobs/cli/image_command.h"
#include "jobs/cli/job_flags.h"
#include "jobs/cli/queue_flags.h"
#include "jobs/dispatch/redis_client.h"
#include "jobs/format/json_reader.h"
#include "jobs/frontend/redis_frontend.h"
#include "jobs/gojudge/gojudge_routes.h"
#include "jobs/service/service.h"

namespace cellblock {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

std::string read_token(const std::string& path) {
  std::string token = read_input(path, "--token-file");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw FieldError("--token-file", path + " is empty");
  if (token.find_first_of("\r\n") != std::string::npos)
    throw FieldError("--token-file", path + ": the token must be one line");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH))
    spdlog::warn("--token-file {}: readable by every user (chmod 600 it)", path);
  return token;
}

milliseconds duration_flag(const std::string& text, const char* flag) {
  try {
    return milliseconds(parse_duration_ms(text));
  } catch (const std::exception& e) {
    throw FieldError(flag, e.what());
  }
}

uint64_t size_flag(const std::string& text, const char* flag) {
  try {
    return parse_size(text);
  } catch (const std::exception& e) {
    throw FieldError(flag, e.what());
  }
}

service::ServiceOptions service_options(const ServeOptions& o) {
  service::ServiceOptions s;
  s.unix_group = o.unix_group;
  if (!o.no_unix) s.unix_path = o.unix_path;
  else s.unix_path.reset();
  if (o.listen) {
    if (!o.token_file) throw FieldError("--listen", "TCP needs --token-file: clients must send Authorization: Bearer TOKEN");
    s.listen = o.listen;
    s.token = read_token(*o.token_file);
  }
  if (!s.unix_path && !s.listen) throw FieldError("--no-unix", "without --listen nothing would be served");
  if (o.queue.defaults_file) s.defaults = read_defaults(*o.queue.defaults_file);
  s.client_paths = ClientHostPaths(o.allow_host_paths);
  if (o.queue.parallel) s.queue.parallel = o.queue.parallel;
  if (o.queue.memory_budget) s.queue.memory_budget = size_flag(*o.queue.memory_budget, "--memory-budget");
  if (o.max_queued < 1) throw FieldError("--max-queued", "must be at least 1");
  s.max_queued = o.max_queued;
  s.keep_results = duration_flag(o.keep_results, "--keep-results");
  s.http.max_body = size_flag(o.max_body, "--max-body");
  s.http.header_timeout = duration_flag(o.header_timeout, "--header-timeout");
  s.http.body_timeout = duration_flag(o.body_timeout, "--body-timeout");
  s.http.idle_timeout = duration_flag(o.idle_timeout, "--idle-timeout");
  for (auto [v, flag] : {std::pair{s.http.header_timeout, "--header-timeout"}, {s.http.body_timeout, "--body-timeout"},
                         {s.http.idle_timeout, "--idle-timeout"}})
    if (v.count() < 1) throw FieldError(flag, "must be longer than 0");
  if (o.max_connections < 1) throw FieldError("--max-connections", "must be at least 1");
  s.max_connections = o.max_connections;
  if (o.redis) {
    if (o.redis_queue.empty()) throw FieldError("--queue", "--redis needs the queue's name");
    frontend::FrontendOptions fe;
    fe.redis = parse_redis_url(*o.redis);
    fe.queue = o.redis_queue;
    fe.job_ttl = std::chrono::duration_cast<std::chrono::seconds>(duration_flag(o.job_ttl, "--job-ttl"));
    if (fe.job_ttl.count() < 1) throw FieldError("--job-ttl", "must be a second or longer");
    s.jobs_api = [fe](service::Router& router, service::ServiceContext& ctx) { frontend::add_redis_frontend(router, ctx, fe); };
  } else if (!o.redis_queue.empty()) {
    throw FieldError("--queue", "names a Redis queue: it needs --redis");
  }
  s.file_store_bytes = size_flag(o.file_store_max, "--file-store-max");
  s.modules.push_back([](service::Router& router, service::ServiceContext& ctx) { gojudge::add_gojudge_routes(router, ctx); });
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

void add_serve_command(CLI::App& app, ServeOptions& o) {
  CLI::App* serve = app.add_subcommand("serve", "Run the queue as an HTTP service (docs/api.md)");
  // Grouped as --help shows them: where clients connect, the queue, and what protects the
  // service from clients.
  CLI::App* listening = serve->add_option_group("Listening");
  listening->add_option("--unix", o.unix_path, "Unix socket to serve on (mode 0660)")->capture_default_str();
  listening->add_option("--unix-group", o.unix_group, "Group of the unix socket: its members may submit");
  listening->add_flag("--no-unix", o.no_unix, "No unix socket (TCP only)");
  listening->add_option("--listen", o.listen, "Also serve TCP on HOST:PORT (needs --token-file)");
  listening->add_option("--token-file", o.token_file, "File holding the bearer token TCP clients must send");
  o.queue.add_to(*serve);
  serve->add_option("--allow-host-path", o.allow_host_paths,
                    "A host directory a client's job may name as rootfs or read-only mount source (repeatable; "
                    "none by default: jobs run in what --defaults gives)");
  serve->add_option("--max-queued", o.max_queued, "Jobs waiting to start at most; more get 429")->capture_default_str();
  serve->add_option("--keep-results", o.keep_results, "How long results are kept after a job ends")->capture_default_str();
  CLI::App* protection = serve->add_option_group("Protection");
  protection->add_option("--header-timeout", o.header_timeout, "Time a client has to send a request's header")->capture_default_str();
  protection->add_option("--body-timeout", o.body_timeout, "Time a client has to send a request's body")->capture_default_str();
  protection->add_option("--idle-timeout", o.idle_timeout, "Time a kept-alive connection may sit idle")->capture_default_str();
  protection->add_option("--max-body", o.max_body, "Largest request body; larger get 413")->capture_default_str();
  protection->add_option("--max-connections", o.max_connections, "Open connections at most; more get 503")->capture_default_str();
  CLI::App* redis = serve->add_option_group("Front end of a Redis queue (docs/distributed.md)");
  redis->add_option("--redis", o.redis, "redis://[user:password@]host:port[/db]: /v1/jobs goes to this Redis's queue");
  redis->add_option("--queue", o.redis_queue, "The queue's name (NAME:jobs, as `cellblock worker --queue`)");
  redis->add_option("--job-ttl", o.job_ttl, "How long Redis remembers an accepted job's id (longer than jobs wait)")
      ->capture_default_str();
  serve->add_option("--file-store-max", o.file_store_max,
                     "Total size of the files the service keeps (collect \"keep\", go-judge's copyOutCached and POST "
                     "/file), on disk under the state directory (docs/api.md)")
      ->capture_default_str();
}

int serve_command(const ServeOptions& o, const std::function<Executor&()>& executor, PolicyRegistry& policies,
                  const std::string& state_dir) {
  service::ServiceOptions options;
  milliseconds grace;
  try {
    options = service_options(o);
    grace = duration_flag(o.queue.grace, "--grace");
  } catch (const std::exception& e) {
    std::cerr << "cellblock serve: " << e.what() << "\n";
    return 2;
  }
  options.state_dir = state_dir;
  // A client names only images the operator imported (image_sources.h). With --redis the jobs
  // API is the front end's, and a worker resolves the image on its own host.
  options.resolve_image = image_job_resolver(state_dir, /*quiet=*/true, images::ImageSources::imported_only);
  if (o.redis) try {
      // A wrong password or a host nobody answers on: one line now, not 503s later.
      RedisClient(parse_redis_url(*o.redis)).command({"PING"});
    } catch (const RedisError& e) {
      std::cerr << "cellblock serve: " << e.what() << "\n";
      return 1;
    }
  std::unique_ptr<service::Service> service;
  try {
    service = std::make_unique<service::Service>(executor(), policies, std::move(options));
    service->start();
  } catch (const std::exception& e) {
    std::cerr << "cellblock serve: " << e.what() << "\n";
    return 1;
  }
  const service::ServiceInfo& info = service->info();
  spdlog::info("cellblock serve {}: listening on {}; cgroup {}; {} jobs at once (memory budget {} MiB), up to {} queued{}",
               info.version, join(service->addresses()), info.cgroup_mode, info.parallel, info.memory_budget >> 20,
               info.max_queued,
               service->recovered() ? "; " + std::to_string(service->recovered()) + " jobs from the journal" : "");

  // First SIGTERM/SIGINT: stop accepting, give running jobs the grace; second: kill them.
  asio::io_context ui;
  asio::signal_set signals(ui, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::thread idle_waiter;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (++signals_seen == 1) {
      spdlog::warn("cellblock serve: {}: stopped accepting; running jobs get the grace period ({} ms); queued jobs stay "
                   "in the journal for the next start", name, grace.count());
      service->shutdown(grace);
      idle_waiter = std::thread([&] {
        service->wait_idle();
        asio::post(ui, [&] { ui.stop(); });
      });
    } else {
      spdlog::warn("cellblock serve: {}: killing running jobs", name);
      service->shutdown(milliseconds(0));
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  ui.run();
  if (idle_waiter.joinable()) idle_waiter.join();
  spdlog::warn("cellblock serve: every job has ended; the journal is on disk; exiting");
  service.reset();
  return 0;
}

}  // namespace cellblock
