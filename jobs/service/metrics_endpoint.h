// GET /metrics: the route `cellblock serve` answers on its own socket, and a small HTTP server
// of its own for processes that serve nothing else (`cellblock worker --metrics-listen`): the
// same sessions, limits and HTTP counters as the service, on an io thread of its own.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "jobs/metrics/metrics.h"
#include "jobs/service/router.h"
#include "jobs/service/server.h"

namespace cellblock::service {

// Adds GET /metrics: `registry` in the Prometheus text format.
void add_metrics_route(Router& router, metrics::Registry& registry);

class MetricsEndpoint {
 public:
  // Listens on TCP "HOST:PORT" (port 0: any free one) without a token: the metrics are read-only
  // and hold no secret; bind it where only the scraper reaches. Errors name `flag` (throws
  // std::runtime_error or SysError). `registry` must outlive the endpoint.
  MetricsEndpoint(metrics::Registry& registry, const std::string& host_port, const std::string& flag);
  ~MetricsEndpoint();  // stops serving and closes open connections
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  const std::string& address() const { return address_; }  // "HOST:PORT" as bound

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::string address_;
  std::thread thread_;
};

}  // namespace cellblock::service
