#include "jobs/service/router.h"

#include <stdexcept>

namespace cellblock::service {
namespace {

std::vector<std::string> segments_of(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> Call::query_value(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::pair<std::string, std::map<std::string, std::string>> split_target(std::string_view target) {
  const size_t q = target.find('?');
  std::map<std::string, std::string> query;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      query[percent_decode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
    }
  }
  return {percent_decode(target.substr(0, q)), std::move(query)};
}

void Router::add(http::verb method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("route \"" + pattern + "\" must start with /");
  std::vector<std::string> segments = segments_of(pattern);
  for (Route& r : routes_) {
    if (r.segments != segments) continue;
    if (r.handlers.count(method))
      throw std::invalid_argument("route " + std::string(http::to_string(method)) + " " + pattern + " is added twice");
    r.handlers[method] = std::move(handler);
    return;
  }
  Route r;
  r.segments = std::move(segments);
  r.handlers[method] = std::move(handler);
  r.pattern = std::move(pattern);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  const std::vector<std::string> segments = segments_of(path);
  const Route* best = nullptr;
  int best_literals = -1;
  std::map<std::string, std::string> best_params;
  for (const Route& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    int literals = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < segments.size(); ++i) {
      if (is_param(r.segments[i])) params[r.segments[i].substr(1, r.segments[i].size() - 2)] = segments[i];
      else if (r.segments[i] == segments[i]) ++literals;
      else ok = false;
    }
    if (ok && literals > best_literals) {
      best = &r;
      best_literals = literals;
      best_params = std::move(params);
    }
  }
  Match m;
  if (!best) {
    m.route = "unmatched";
    m.status = http::status::not_found;
    return m;
  }
  m.route = best->pattern;
  m.params = std::move(best_params);
  auto it = best->handlers.find(method);
  if (it == best->handlers.end()) {
    m.status = http::status::method_not_allowed;
    for (const auto& [verb, handler] : best->handlers)
      m.allow += (m.allow.empty() ? "" : ", ") + std::string(http::to_string(verb));
    return m;
  }
  m.handler = &it->second;
  return m;
}

}  // namespace cellblock::service
