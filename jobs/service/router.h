// The seam where the parts of `cellblock serve` plug in their routes (docs/api.md, "Adding
// routes"). A module registers handlers for a method and a path pattern:
//
//   void add_my_routes(Router& router, ServiceContext& ctx) {
//     router.add(http::verb::get, "/things/{id}", [&ctx](Call& call, ResponderPtr answer) {
//       answer->send(json_response(http::status::ok, {{"id", call.params.at("id")}}));
//     });
//   }
//
// and is called once from Service's constructor (service.cc). The session matches each request
// and answers 404 for a path no pattern matches, 405 (with Allow) for a known path with another
// method, and 500 if a handler throws; every error is JSON with a message.
//
// Handlers run on the service's io thread (the queue's, jobs/queue/job_queue.h), one at a time:
// they must not block. A handler answers through its Responder exactly once, now or later, from
// any thread (a job's result arrives later); `call` stays valid until then.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/service/http.h"

namespace cellblock::service {

// One request as a handler sees it.
struct Call {
  const Request& request;                      // method, target, headers, body
  std::string path;                            // the target without its query, percent-decoded
  std::string route;                           // the pattern that matched: "/v1/jobs/{id}"
  std::map<std::string, std::string> params;   // the pattern's {names}: params["id"]
  std::map<std::string, std::string> query;    // ?a=1&b=x, percent-decoded; the last of a repeated key
  bool over_tcp = false;                       // came in over TCP (with a valid token), not the unix socket

  // The query value, if given.
  std::optional<std::string> query_value(const std::string& key) const;
};

// How a handler answers. Thread-safe; calls made after the client has gone are dropped.
class Responder {
 public:
  virtual ~Responder() = default;
  // The whole answer, once.
  virtual void send(Response response) = 0;
  // Or a streamed answer (Transfer-Encoding: chunked): the head first (status and headers; its
  // body is ignored), then any number of chunks, then end_stream(). No write timeout applies
  // between chunks, only to each write.
  virtual void begin_stream(Response head) = 0;
  virtual void write_chunk(std::string data) = 0;
  virtual void end_stream() = 0;
  // True once the connection is gone (a write failed or the server stopped).
  virtual bool client_gone() const = 0;
};
using ResponderPtr = std::shared_ptr<Responder>;
using Handler = std::function<void(Call& call, ResponderPtr responder)>;

class Router {
 public:
  // `pattern` is a path of literal segments and {name} segments, each {name} matching one
  // non-empty segment: "/v1/jobs", "/v1/jobs/{id}/wait", "/file/{id}". A literal segment wins
  // over a {name} at the same place. Registering a method and pattern twice throws
  // std::invalid_argument.
  void add(http::verb method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: see status
    std::string route;                 // the matched pattern, or "unmatched"
    std::map<std::string, std::string> params;
    http::status status = http::status::ok;  // not_found or method_not_allowed when no handler
    std::string allow;                       // for 405: the methods the path has, "GET, DELETE"
  };
  Match match(http::verb method, std::string_view path) const;

 private:
  struct Route {
    std::vector<std::string> segments;
    std::map<http::verb, Handler> handlers;
    std::string pattern;
  };
  std::vector<Route> routes_;
};

// "/v1/jobs?state=done&limit=5": the path and the query, both percent-decoded ('+' is a space
// in the query). A malformed escape is kept as it is.
std::string percent_decode(std::string_view s, bool plus_is_space = false);
std::pair<std::string, std::map<std::string, std::string>> split_target(std::string_view target);

}  // namespace cellblock::service
