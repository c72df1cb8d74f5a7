#include "jobs/service/metrics_endpoint.h"

namespace cellblock::service {

void add_metrics_route(Router& router, metrics::Registry& registry) {
  router.add(http::verb::get, "/metrics", [&registry](Call&, ResponderPtr answer) {
    answer->send(text_response(http::status::ok, registry.expose(), metrics::Registry::kContentType));
  });
}

MetricsEndpoint::MetricsEndpoint(metrics::Registry& registry, const std::string& host_port, const std::string& flag)
    : work_(boost::asio::make_work_guard(io_)) {
  add_metrics_route(router_, registry);
  // A scraper needs few connections and small requests.
  HttpLimits limits;
  limits.max_body = 4096;
  server_ = std::make_unique<Server>(io_, router_, registry, limits, 16, "cellblock");
  address_ = server_->listen_tcp(host_port, std::nullopt, flag);
  server_->start();
  thread_ = std::thread([this] { io_.run(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  server_->stop();
  work_.reset();
  io_.stop();
  thread_.join();
  server_.reset();
}

}  // namespace cellblock::service
