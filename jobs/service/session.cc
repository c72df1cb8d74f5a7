#include "jobs/service/session.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <chrono>
#include <deque>
#include <optional>

#include "executor/base/libcrypto_library.h"

namespace cellblock::service {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

// How often a connection whose request waits is looked at for a client that hung up.
constexpr std::chrono::milliseconds kHangupCheck{500};

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const LibcryptoLibrary& crypto = libcrypto_library();
  if (!crypto.digest(data.data(), data.size(), out, &n, crypto.sha256(), nullptr)) throw std::runtime_error("EVP_Digest failed");
  return std::string(reinterpret_cast<char*>(out), n);
}

template <class Protocol>
class Session;

// The handle a route answers through. Every call goes to the io thread; the session takes an
// answer only from the responder of the request it serves now. Until the answer is complete the
// responder keeps its session alive (nothing else does while a route works on the request: no
// read or write is pending then); after that it holds it weakly, so a route that keeps its
// responder longer keeps no connection open.
template <class Protocol>
class SessionResponder : public Responder, public std::enable_shared_from_this<SessionResponder<Protocol>> {
 public:
  SessionResponder(const std::shared_ptr<Session<Protocol>>& session, net::any_io_executor io)
      : strong_(session), weak_(session), io_(std::move(io)) {}
  void send(Response r) override {
    run([r = std::move(r)](Session<Protocol>& s, SessionResponder* self) mutable { s.answer(self, std::move(r)); });
  }
  void begin_stream(Response head) override {
    run([h = std::move(head)](Session<Protocol>& s, SessionResponder* self) mutable { s.begin_stream(self, std::move(h)); });
  }
  void write_chunk(std::string data) override {
    if (data.empty()) return;  // an empty chunk would end the stream
    run([d = std::move(data)](Session<Protocol>& s, SessionResponder* self) mutable { s.write_chunk(self, std::move(d)); });
  }
  void end_stream() override {
    run([](Session<Protocol>& s, SessionResponder* self) { s.end_stream(self); });
  }
  bool client_gone() const override { return gone_.load(); }

  // On the io thread, by the session.
  void release() { strong_.reset(); }
  void mark_gone() {
    gone_.store(true);
    strong_.reset();
  }

 private:
  template <class F>
  void run(F f) {
    net::dispatch(io_, [self = this->shared_from_this(), f = std::move(f)]() mutable {
      if (self->gone_.load()) return;
      if (auto s = self->weak_.lock()) f(*s, self.get());
    });
  }

  std::shared_ptr<Session<Protocol>> strong_;
  std::weak_ptr<Session<Protocol>> weak_;
  net::any_io_executor io_;
  std::atomic<bool> gone_{false};
};

template <class Protocol>
class Session : public SessionHandle, public std::enable_shared_from_this<Session<Protocol>> {
 public:
  using Stream = beast::basic_stream<Protocol, net::any_io_executor, beast::unlimited_rate_policy>;

  Session(typename Protocol::socket socket, SessionStart start)
      : stream_(std::move(socket)), shared_(start.shared), token_(start.token), on_close_(std::move(start.on_close)),
        refuse_(std::move(start.refuse)) {
    shared_->metrics->connections.add(1);
  }
  ~Session() {
    shared_->metrics->connections.add(-1);
    if (auto r = responder_.lock()) r->mark_gone();
    if (on_close_) on_close_();
  }

  void start() {
    if (!refuse_.empty()) {
      closing_ = true;
      Response r = error_response(http::status::service_unavailable, refuse_);
      r.set(http::field::retry_after, "1");
      route_ = "unmatched";
      finish(std::move(r), 11, false);
      return;
    }
    read_next();
  }

  // --- answers, on the io thread ------------------------------------------------------------
  void answer(SessionResponder<Protocol>* from, Response r) {
    if (from != current_ || answered_) return;
    answered_ = true;
    finish(std::move(r), version_, keep_alive_);
    from->release();
  }
  void begin_stream(SessionResponder<Protocol>* from, Response head) {
    if (from != current_ || answered_) return;
    answered_ = streaming_ = true;
    decorate(head, version_, keep_alive_);
    head.body().clear();
    head.chunked(true);
    count(head.result_int());
    auto msg = std::make_shared<Response>(std::move(head));
    auto sr = std::make_shared<http::response_serializer<http::string_body>>(*msg);
    queue([msg, sr](Session& s, auto done) { http::async_write_header(s.stream_, *sr, std::move(done)); });
  }
  void write_chunk(SessionResponder<Protocol>* from, std::string data) {
    if (from != current_ || !streaming_ || stream_ended_) return;
    auto text = std::make_shared<std::string>(beast::buffers_to_string(http::make_chunk(net::buffer(data))));
    queue([text](Session& s, auto done) { net::async_write(s.stream_, net::buffer(*text), std::move(done)); });
  }
  void end_stream(SessionResponder<Protocol>* from) {
    if (from != current_ || !streaming_ || stream_ended_) return;
    stream_ended_ = true;
    auto text = std::make_shared<std::string>(beast::buffers_to_string(http::make_chunk_last()));
    queue([text](Session& s, auto done) { net::async_write(s.stream_, net::buffer(*text), std::move(done)); },
          /*last=*/true);
    from->release();
  }

 private:
  using WriteOp = std::function<void(Session&, std::function<void(beast::error_code, size_t)>)>;
  struct Write {
    WriteOp op;
    bool last;  // the answer is complete once it is written
  };

  // --- reading ------------------------------------------------------------------------------
  void read_next() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->limits.max_header));
    parser_->body_limit(shared_->limits.max_body);
    responder_.reset();
    current_ = nullptr;
    call_.reset();
    answered_ = streaming_ = stream_ended_ = false;
    if (buffer_.size() > 0) return read_header();  // the next request came with the last one
    // Idle until the first byte; the header timeout starts with it.
    stream_.expires_after(shared_->limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->close_on_read_error(ec, "idle");
      self->read_header();
    });
  }

  void read_header() {
    stream_.expires_after(shared_->limits.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    // Beast checks Content-Length against the body limit while it reads the header.
    if (ec == http::error::body_limit) return reject(http::status::payload_too_large, body_too_large());
    if (ec == http::error::header_limit) return reject(http::status::request_header_fields_too_large, "the request header is larger than " + std::to_string(shared_->limits.max_header) + " bytes");
    if (ec) return close_on_read_error(ec, "header");
    const Request& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    if (token_ && !token_->accepts(sv(req[http::field::authorization]))) {
      shared_->metrics->unauthorized.inc();
      route_ = shared_->router.match(req.method(), split_target(sv(req.target())).first).route;
      Response r = error_response(http::status::unauthorized,
                                  req[http::field::authorization].empty() ? "missing Authorization: Bearer token"
                                                                          : "wrong token");
      r.set(http::field::www_authenticate, "Bearer");
      if (!parser_->is_done()) keep_alive_ = false;  // its body stays unread
      return finish(std::move(r), version_, keep_alive_);
    }
    if (auto length = parser_->content_length(); length && *length > shared_->limits.max_body)
      return reject(http::status::payload_too_large, body_too_large());
    if (parser_->is_done()) return on_request();
    auto read_body = [self = this->shared_from_this()] {
      self->stream_.expires_after(self->shared_->limits.body_timeout);
      http::async_read(self->stream_, self->buffer_, *self->parser_, [self](beast::error_code ec, size_t) {
        if (ec == http::error::body_limit) return self->reject(http::status::payload_too_large, self->body_too_large());
        if (ec) return self->close_on_read_error(ec, "body");
        self->on_request();
      });
    };
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      stream_.expires_after(shared_->limits.write_timeout);
      http::async_write(stream_, *cont, [self = this->shared_from_this(), cont, read_body](beast::error_code ec, size_t) {
        if (ec) return self->close();
        read_body();
      });
      return;
    }
    read_body();
  }

  std::string body_too_large() const {
    return "the request body is larger than --max-body (" + std::to_string(shared_->limits.max_body) + " bytes)";
  }

  // An error found while reading: answer it and close, since the rest of the request is unread.
  void reject(http::status status, const std::string& message) {
    route_ = "unmatched";
    if (parser_->is_header_done())
      route_ = shared_->router.match(parser_->get().method(), split_target(sv(parser_->get().target())).first).route;
    answered_ = true;
    finish(error_response(status, message), version_, false);
  }

  void close_on_read_error(beast::error_code ec, const char* phase) {
    if (ec == beast::error::timeout) {
      shared_->metrics->timeouts.inc();
      spdlog::debug("http: dropped a connection that sent no complete {} in time", phase);
    } else if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::connection_reset &&
               ec != net::error::operation_aborted) {
      // A malformed request: say so if the socket still takes it.
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        route_ = "unmatched";
        answered_ = true;
        return finish(error_response(http::status::bad_request, "malformed HTTP request: " + ec.message()), 11, false);
      }
      spdlog::debug("http: read failed ({}): {}", phase, ec.message());
    }
    close();
  }

  // --- one request --------------------------------------------------------------------------
  void on_request() {
    stream_.expires_never();
    Request& req = parser_->get();
    auto [path, query] = split_target(sv(req.target()));
    Router::Match m = shared_->router.match(req.method(), path);
    route_ = m.route;
    call_.emplace(Call{req, std::move(path), m.route, std::move(m.params), std::move(query), token_ != nullptr});
    auto responder = std::make_shared<SessionResponder<Protocol>>(this->shared_from_this(), stream_.get_executor());
    responder_ = responder;
    current_ = responder.get();
    if (!m.handler) {
      Response r = m.status == http::status::method_not_allowed
                       ? error_response(m.status, std::string(req.method_string()) + " is not allowed on " + m.route +
                                                      " (allowed: " + m.allow + ")")
                       : error_response(m.status, "no such route: " + std::string(req.method_string()) + " " + call_->path);
      if (!m.allow.empty()) r.set(http::field::allow, m.allow);
      return answer(current_, std::move(r));
    }
    try {
      (*m.handler)(*call_, responder);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} failed: {}", std::string(req.method_string()), call_->path, e.what());
      answer(current_, error_response(http::status::internal_server_error, std::string("internal error: ") + e.what()));
    }
    if (!answered_ || streaming_) watch_for_hangup(current_);
  }

  // While a handler works (a long poll, the output of a silent job, a long go-judge /run) nothing
  // reads the socket, so a client that hung up would keep its session, and a --max-connections
  // slot, until the answer, up to an hour later. So look at the socket every kHangupCheck: at
  // its end or an error the client is gone and the session closes (the handler's later answer
  // goes nowhere). A look that peeks, from a timer that holds the session only weakly: a
  // second read waiting on the socket beside the session's own kept answered sessions alive.
  void watch_for_hangup(SessionResponder<Protocol>* watched) {
    auto timer = std::make_shared<net::steady_timer>(stream_.get_executor(), kHangupCheck);
    timer->async_wait([weak = this->weak_from_this(), watched, timer](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      const bool request_over = watched != self->current_ || (self->answered_ && (!self->streaming_ || self->stream_ended_));
      if (request_over || !self->stream_.socket().is_open()) return;
      char byte;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        spdlog::debug("http: the client hung up before its answer");
        return self->close();
      }
      if (n < 0) self->watch_for_hangup(watched);  // nothing to read: look again later
      // n > 0: a pipelined request, left for the next read
    });
  }

  void decorate(Response& r, unsigned version, bool keep_alive) {
    r.version(version);
    r.keep_alive(keep_alive && !closing_);
    r.set(http::field::server, shared_->server_name);
  }

  void count(unsigned code) { shared_->metrics->requests.with({route_, std::to_string(code)}).inc(); }

  void finish(Response r, unsigned version, bool keep_alive) {
    if (!keep_alive) closing_ = true;
    decorate(r, version, keep_alive);
    r.prepare_payload();
    count(r.result_int());
    auto msg = std::make_shared<Response>(std::move(r));
    queue([msg](Session& s, auto done) { http::async_write(s.stream_, *msg, std::move(done)); }, /*last=*/true);
  }

  // --- writing ------------------------------------------------------------------------------
  void queue(WriteOp op, bool last = false) {
    writes_.push_back({std::move(op), last});
    if (!writing_) write_next();
  }

  void write_next() {
    if (writes_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    // The write in flight owns what it writes (its lambda holds the message): keep it until done.
    in_flight_ = std::move(writes_.front());
    writes_.pop_front();
    stream_.expires_after(shared_->limits.write_timeout);
    in_flight_.op(*this, [self = this->shared_from_this(), last = in_flight_.last](beast::error_code ec, size_t) {
      self->stream_.expires_never();
      if (ec) return self->close();
      if (last) {
        // The answer is complete: the next request, or the end.
        self->writing_ = false;
        self->writes_.clear();
        if (self->closing_) return self->request_unread() ? self->linger_then_close() : self->close();
        return self->read_next();
      }
      self->write_next();
    });
  }

  bool request_unread() const { return parser_ && !parser_->is_done(); }

  // After an answer that leaves the request's body unread (413, or 401 to a POST): stop sending,
  // then read and drop what the client still sends, for a bounded time and size, before closing.
  // Closing with unread input makes the kernel reset the connection (TCP) or fail the client's
  // next write (unix socket), so a client still uploading sees "broken pipe" and never reads the
  // answer that explains why. nginx's lingering_close does the same.
  void linger_then_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    lingered_ = 0;
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kLingerChunk), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->close();  // eof, timeout or enough
      self->drain();
    });
  }

  static constexpr auto kLingerTime = std::chrono::seconds(2);
  static constexpr std::size_t kLingerChunk = 16 * 1024;
  static constexpr std::size_t kLingerBytes = 16 << 20;

public:
  void close() override {
    if (auto r = responder_.lock()) r->mark_gone();
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    stream_.close();
  }

 private:
  Stream stream_;
  std::shared_ptr<const SessionShared> shared_;
  const TokenCheck* token_;
  std::function<void()> on_close_;
  std::string refuse_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Call> call_;
  std::weak_ptr<SessionResponder<Protocol>> responder_;
  SessionResponder<Protocol>* current_ = nullptr;  // identity only
  std::string route_ = "unmatched";
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool answered_ = false, streaming_ = false, stream_ended_ = false;
  bool closing_ = false;
  bool writing_ = false;
  std::size_t lingered_ = 0;
  std::deque<Write> writes_;
  Write in_flight_;
};

}  // namespace

HttpMetrics::HttpMetrics(metrics::Registry& r)
    : requests(r.counter("cellblock_http_requests_total", "HTTP requests answered, by route pattern and status code",
                         {"route", "code"})),
      unauthorized(r.counter("cellblock_http_unauthorized_total", "TCP requests refused for a missing or wrong token").get()),
      rejected_connections(
          r.counter("cellblock_http_connections_rejected_total", "Connections refused at the connection cap").get()),
      timeouts(r.counter("cellblock_http_read_timeouts_total",
                         "Connections dropped for not sending a request, header or body in time").get()),
      connections(r.gauge("cellblock_http_connections", "Open HTTP connections").get()) {}

TokenCheck::TokenCheck(const std::string& token) : digest_(sha256(token)) {}

bool TokenCheck::accepts(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() < kBearer.size() || !beast::iequals(beast::string_view(header.data(), kBearer.size()), beast::string_view(kBearer.data(), kBearer.size())))
    return false;
  const std::string given = sha256(header.substr(kBearer.size()));
  return libcrypto_library().memcmp(given.data(), digest_.data(), digest_.size()) == 0;
}

std::shared_ptr<SessionHandle> start_session(net::ip::tcp::socket socket, SessionStart start) {
  beast::error_code ignored;
  socket.set_option(net::ip::tcp::no_delay(true), ignored);  // small answers go out at once
  auto s = std::make_shared<Session<net::ip::tcp>>(std::move(socket), std::move(start));
  s->start();
  return s;
}

std::shared_ptr<SessionHandle> start_session(net::local::stream_protocol::socket socket, SessionStart start) {
  auto s = std::make_shared<Session<net::local::stream_protocol>>(std::move(socket), std::move(start));
  s->start();
  return s;
}

}  // namespace cellblock::service
