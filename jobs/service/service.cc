#include "jobs/service/service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>

#include "jobs/format/job_json.h"
#include "jobs/format/policy_json.h"
#include "jobs/service/file_routes.h"
#include "jobs/service/job_store.h"
#include "jobs/service/journal.h"
#include "jobs/service/metrics_endpoint.h"
#include "jobs/service/native_routes.h"

namespace cellblock::service {

using nlohmann::json;

namespace {

// Runs `f` on the io thread and waits for it.
void on_io(boost::asio::io_context& io, const std::function<void()>& f) {
  if (io.get_executor().running_in_this_thread()) return f();
  std::promise<void> done;
  boost::asio::post(io, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

// <state_dir>/files; a store that go-judge's routes kept alone, before /v1 shared it, moves there.
std::string file_store_dir(const std::string& state_dir) {
  const std::filesystem::path dir = std::filesystem::path(state_dir) / "files";
  const std::filesystem::path old = std::filesystem::path(state_dir) / "gojudge" / "files";
  std::error_code ec;
  if (std::filesystem::is_directory(old, ec)) {
    if (!std::filesystem::exists(dir, ec)) std::filesystem::rename(old, dir);
    else spdlog::warn("service: {} is left as it is: the file store is {} now", old.string(), dir.string());
  }
  return dir.string();
}

}  // namespace

Service::Service(Executor& executor, PolicyRegistry& policies, ServiceOptions options)
    : options_(std::move(options)),
      policies_(policies),
      runner_(executor),
      queue_(runner_, options_.queue),
      shared_(queue_, metrics_, options_.max_queued),
      journal_(std::make_unique<Journal>(options_.state_dir, queue_.io_context())),
      files_(options_.file_store_bytes, file_store_dir(options_.state_dir)),
      context_{queue_.io_context(), shared_, policies_, options_.defaults, options_.client_paths, options_.state_dir, metrics_, info_, files_} {
  info_.version = CELLBLOCK_VERSION;
  info_.cgroup_version = executor.cgroup_version();
  info_.cgroup_mode = "v" + std::to_string(info_.cgroup_version);
  info_.parallel = queue_.options().parallel;
  info_.memory_budget = queue_.options().memory_budget;
  info_.max_queued = options_.max_queued;
  info_.max_body = options_.http.max_body;
  metrics_.gauge_fn("cellblock_build_info", "cellblock's version and the host's cgroup version; always 1",
                    [] { return 1.0; }, {"version", "cgroup_version"},
                    {info_.version, std::to_string(info_.cgroup_version)});

  store_ = std::make_unique<JobStore>(shared_, *journal_, files_, options_.keep_results);
  images_ = std::make_unique<ImageJobs>(queue_.io_context(), options_.resolve_image);
  server_ = std::make_unique<Server>(queue_.io_context(), router_, metrics_, options_.http, options_.max_connections,
                                     "cellblock/" + info_.version);

  // The modules: each registers its routes on the router (router.h, docs/api.md).
  add_service_routes();
  if (options_.jobs_api) (*options_.jobs_api)(router_, context_);
  else add_native_routes(router_, NativeApi{context_, *store_, accepting_, *images_});
  for (const RouteModule& add_module_routes : options_.modules) add_module_routes(router_, context_);
}

Service::~Service() {
  accepting_ = false;
  server_->stop_accepting();
  queue_.shutdown(std::chrono::milliseconds(0));
  queue_.wait_idle();
  // After the cells are gone, not before: an import in hand may take a while. What it resolves
  // now is answered 503 (accepting_ is false).
  images_->stop();
  journal_->flush();
  server_->stop();
  on_io(queue_.io_context(), [this] { store_.reset(); });
  server_.reset();
}

void Service::add_service_routes() {
  add_metrics_route(router_, metrics_);
  add_file_routes(router_, files_);
  router_.add(http::verb::get, "/v1/info", [this](Call&, ResponderPtr answer) {
    answer->send(json_response(http::status::ok, info_json()));
  });
}

json Service::info_json() const {
  json limits;
  try {
    // The limits a job gets when it sets none: the built-in defaults under --defaults.
    limits = job_to_json(job_from_json({{"rootfs", "/"}, {"command", {"true"}}}, options_.defaults))["limits"];
  } catch (const std::exception& e) {
    limits = {{"error", e.what()}};
  }
  return {{"version", info_.version},
          {"cgroup_version", info_.cgroup_version},
          {"cgroup_mode", info_.cgroup_mode},
          {"policies", policies_.available()},
          {"default_limits", limits},
          {"defaults", options_.defaults.is_null() ? json::object() : options_.defaults},
          {"capacity",
           {{"parallel", info_.parallel},
            {"memory_budget_bytes", info_.memory_budget},
            {"max_queued", info_.max_queued},
            {"max_body_bytes", info_.max_body},
            {"max_connections", options_.max_connections}}},
          {"keep_results_seconds", options_.keep_results.count() / 1000.0},
          {"addresses", server_->addresses()}};
}

void Service::start() {
  if (options_.unix_path) server_->listen_unix(*options_.unix_path, options_.unix_group);
  if (options_.listen) server_->listen_tcp(*options_.listen, options_.token);
  on_io(queue_.io_context(), [this] { recovered_ = store_->recover(policies_, *images_, options_.client_paths, options_.defaults); });
  server_->start();
}

void Service::shutdown(std::chrono::milliseconds grace) {
  accepting_ = false;
  server_->stop_accepting();
  on_io(queue_.io_context(), [this] { store_->shutting_down(); });
  queue_.shutdown(grace);
}

void Service::wait_idle() {
  queue_.wait_idle();
  journal_->flush();
}

}  // namespace cellblock::service
