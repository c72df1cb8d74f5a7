// One HTTP/1.1 connection (Boost.Beast), over TCP or a unix socket: reads requests one at a time
// with a deadline on every read, hands each to its route (router.h) and writes the answer, then
// reads the next while the client keeps the connection alive.
//
// Deadlines (beast::basic_stream::expires_after before every operation):
//   - idle:   waiting for the first byte of the next request (--idle-timeout);
//   - header: from that byte until the header is complete (--header-timeout), so a client that
//             never finishes its header is dropped after it, whoever else is served meanwhile;
//   - body:   for the rest of the body (--body-timeout);
//   - write:  each write of an answer, so a client that does not read is dropped.
// A body over --max-body gets 413, known from Content-Length before it is read where there is
// one; the connection then closes, as its unread body cannot be skipped.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "jobs/metrics/metrics.h"
#include "jobs/service/router.h"

namespace cellblock::service {

struct HttpLimits {
  size_t max_body = 64u << 20;
  size_t max_header = 16u << 10;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
};

// The HTTP metrics every session counts into.
struct HttpMetrics {
  explicit HttpMetrics(metrics::Registry& registry);
  metrics::CounterFamily& requests;      // cellblock_http_requests_total{route,code}
  metrics::Counter& unauthorized;        // cellblock_http_unauthorized_total
  metrics::Counter& rejected_connections;  // cellblock_http_connections_rejected_total
  metrics::Counter& timeouts;            // cellblock_http_read_timeouts_total
  metrics::Gauge& connections;           // cellblock_http_connections
};

// What all sessions of one server share.
struct SessionShared {
  const Router& router;
  HttpLimits limits;
  std::shared_ptr<HttpMetrics> metrics;
  std::string server_name;  // the Server header: "cellblock/0.1.0"
};

// Checks "Authorization: Bearer TOKEN" in constant time (a SHA-256 of each side compared with
// CRYPTO_memcmp, so neither the token's bytes nor its length leak through timing).
class TokenCheck {
 public:
  explicit TokenCheck(const std::string& token);
  bool accepts(std::string_view authorization_header) const;

 private:
  std::string digest_;
};

// Starts a session on an accepted socket. `token`: required for every request (TCP), or null
// (the unix socket, whose file mode is the access control). `on_close` runs once when the
// connection is gone, on the io thread. `refuse`: the server is at its connection cap; the
// session answers 503 with that reason at once, reads nothing and closes.
struct SessionStart {
  std::shared_ptr<const SessionShared> shared;  // sessions may outlive their server at shutdown
  const TokenCheck* token = nullptr;
  std::function<void()> on_close;
  std::string refuse;  // empty: serve
};
// A started session, for the server to close at shutdown (on the io thread).
class SessionHandle {
 public:
  virtual ~SessionHandle() = default;
  virtual void close() = 0;
};
std::shared_ptr<SessionHandle> start_session(boost::asio::ip::tcp::socket socket, SessionStart start);
std::shared_ptr<SessionHandle> start_session(boost::asio::local::stream_protocol::socket socket, SessionStart start);

}  // namespace cellblock::service
