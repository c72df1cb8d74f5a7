// The listening side of `cellblock serve`: a unix socket (mode 0660; its file permissions are the
// access control) and, only when asked, TCP with a bearer token. Both accept on the service's io
// thread and start one session per connection (session.h), up to a cap on open connections;
// past it a connection gets 503 and is closed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobs/service/session.h"

namespace cellblock::service {

class Server {
 public:
  Server(boost::asio::io_context& io, const Router& router, metrics::Registry& metrics, HttpLimits limits,
         size_t max_connections, std::string server_name);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds `path` with mode 0660 (group `group` when not empty), creating its directory (0755)
  // if needed. A stale socket file (nobody accepts on it) is replaced; a live one is an error,
  // as is any other file there. Throws SysError or std::runtime_error naming the path.
  void listen_unix(const std::string& path, const std::string& group = "");
  // "HOST:PORT" ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:8080"); port 0 picks a free one. Every
  // request must carry `token`; none only for routes that change nothing and reveal nothing
  // secret (a worker's /metrics). Errors name `flag`. Returns the address bound, as "HOST:PORT".
  std::string listen_tcp(const std::string& host_port, const std::optional<std::string>& token,
                         const std::string& flag = "--listen");
  // Starts accepting on every listener (posted to the io thread).
  void start();
  // Stops accepting new connections and removes the unix socket file; open connections go on.
  // Thread-safe; waits until the acceptors are closed.
  void stop_accepting();
  // Stops accepting and closes every open connection. Thread-safe; waits until it is done.
  void stop();
  // "unix:/run/cellblock/api.sock", "tcp:127.0.0.1:8080".
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  template <class Acceptor>
  void accept(Acceptor& acceptor, const TokenCheck* token);
  // Runs `f` on the io thread and waits for it (at once when already there or the io is stopped).
  void on_io(const std::function<void()>& f);

  boost::asio::io_context& io_;
  std::shared_ptr<HttpMetrics> metrics_;
  std::shared_ptr<const SessionShared> shared_;
  size_t max_connections_;
  size_t open_ = 0;  // on the io thread
  std::list<std::weak_ptr<SessionHandle>> sessions_;  // on the io thread
  std::optional<boost::asio::local::stream_protocol::acceptor> unix_;
  std::string unix_path_;
  std::optional<boost::asio::ip::tcp::acceptor> tcp_;
  std::optional<TokenCheck> token_;
  std::vector<std::string> addresses_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace cellblock::service
