#include "jobs/service/server.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <future>

#include "executor/base/sys_error.h"

namespace cellblock::service {

namespace net = boost::asio;
using local = net::local::stream_protocol;

namespace {
// How long the acceptors wait after a failed accept (out of descriptors, most likely).
constexpr std::chrono::milliseconds kAcceptPause{100};
}  // namespace

Server::Server(net::io_context& io, const Router& router, metrics::Registry& metrics, HttpLimits limits,
               size_t max_connections, std::string server_name)
    : io_(io),
      metrics_(std::make_shared<HttpMetrics>(metrics)),
      shared_(std::make_shared<SessionShared>(SessionShared{router, limits, metrics_, std::move(server_name)})),
      max_connections_(max_connections) {}

Server::~Server() {
  stop();
  *alive_ = false;
}

void Server::listen_unix(const std::string& path, const std::string& group) {
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("--unix " + cellblock::quoted(path) + ": longer than a unix socket path can be (" +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("--unix " + cellblock::quoted(path) + ": exists and is not a socket");
    local::socket probe(io_);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec) throw std::runtime_error("--unix " + cellblock::quoted(path) + ": another server is listening there");
    ::unlink(path.c_str());  // stale: its server is gone
  }
  unix_.emplace(io_);
  unix_->open();
  // The socket file is made by bind() with the process's umask: 0660 from the first moment, so
  // no client outside the group can connect before a chmod.
  const mode_t old = ::umask(0117);
  boost::system::error_code ec;
  unix_->bind(local::endpoint(path), ec);
  ::umask(old);
  if (ec) throw SysError(ec.value(), "bind(" + cellblock::quoted(path) + ")");
  ::chmod(path.c_str(), 0660);
  if (!group.empty()) {
    const struct group* g = ::getgrnam(group.c_str());
    if (!g) throw std::runtime_error("--unix-group " + cellblock::quoted(group) + ": no such group");
    if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) throw_sys("chown(" + cellblock::quoted(path) + ")");
  }
  unix_->listen(net::socket_base::max_listen_connections);
  unix_path_ = path;
  addresses_.push_back("unix:" + path);
}

std::string Server::listen_tcp(const std::string& host_port, const std::optional<std::string>& token, const std::string& flag) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == host_port.size())
    throw std::runtime_error(flag + " " + cellblock::quoted(host_port) + ": expected HOST:PORT, e.g. 127.0.0.1:8080");
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(host_port.substr(colon + 1), &used);
    if (used != host_port.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    throw std::runtime_error(flag + " " + cellblock::quoted(host_port) + ": the port must be a number from 0 to 65535");
  }
  boost::system::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) throw std::runtime_error(flag + " " + cellblock::quoted(host_port) + ": " + cellblock::quoted(host) + " is not an IP address");
  const net::ip::tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  tcp_.emplace(io_);
  tcp_->open(endpoint.protocol());
  tcp_->set_option(net::socket_base::reuse_address(true));
  tcp_->bind(endpoint, ec);
  if (ec) throw SysError(ec.value(), "bind(" + host_port + ")");
  tcp_->listen(net::socket_base::max_listen_connections);
  if (token) token_.emplace(*token);
  const auto bound = tcp_->local_endpoint();
  std::string text = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) +
                     ":" + std::to_string(bound.port());
  addresses_.push_back("tcp:" + text);
  return text;
}

template <class Acceptor>
void Server::accept(Acceptor& acceptor, const TokenCheck* token) {
  acceptor.async_accept(io_, [this, &acceptor, token, alive = alive_](boost::system::error_code ec,
                                                                      typename Acceptor::protocol_type::socket socket) {
    if (!*alive || !acceptor.is_open()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // EMFILE and the like: the listening socket stays ready, so accepting again at once would
      // spin the io thread (which runs the queue too) and flood the log. Say so, pause, go on.
      spdlog::warn("http: accept failed: {}; accepting again in {} ms", ec.message(), kAcceptPause.count());
      auto pause = std::make_shared<net::steady_timer>(io_, kAcceptPause);
      pause->async_wait([this, &acceptor, token, alive, pause](boost::system::error_code) {
        if (*alive && acceptor.is_open()) accept(acceptor, token);
      });
      return;
    } else {
      SessionStart start{shared_, token, nullptr, ""};
      if (open_ >= max_connections_) {
        metrics_->rejected_connections.inc();
        start.refuse = "too many connections (the cap is " + std::to_string(max_connections_) + ")";
      }
      ++open_;
      start.on_close = [this, alive] {
        if (*alive) --open_;
      };
      std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
      sessions_.push_back(start_session(std::move(socket), std::move(start)));
    }
    accept(acceptor, token);
  });
}

void Server::start() {
  net::post(io_, [this] {
    if (unix_) accept(*unix_, nullptr);
    if (tcp_) accept(*tcp_, token_ ? &*token_ : nullptr);
  });
}

void Server::on_io(const std::function<void()>& f) {
  if (io_.get_executor().running_in_this_thread() || io_.stopped()) return f();
  std::promise<void> done;
  net::post(io_, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

void Server::stop_accepting() {
  on_io([this] {
    boost::system::error_code ignored;
    if (unix_ && unix_->is_open()) {
      unix_->close(ignored);
      ::unlink(unix_path_.c_str());
    }
    if (tcp_ && tcp_->is_open()) tcp_->close(ignored);
  });
}

void Server::stop() {
  stop_accepting();
  on_io([this] {
    for (auto& w : sessions_)
      if (auto s = w.lock()) s->close();
    sessions_.clear();
  });
}

}  // namespace cellblock::service
