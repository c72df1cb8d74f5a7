// The HTTP types every route of `cellblock serve` uses, and the JSON answers they share.
//
// Handlers build a Response with these helpers (or by hand, for another wire format); the
// session fills in what belongs to the connection (version, keep-alive, Content-Length, Server).
// An error is never an empty body: error_response() always says what went wrong.
#pragma once

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace cellblock {
class FieldError;
}

namespace cellblock::service {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// `body` as compact JSON (invalid UTF-8 replaced), Content-Type application/json.
Response json_response(http::status status, const nlohmann::json& body);
// {"error": message} or {"error": message, "field": field}: the native API's errors.
Response error_response(http::status status, const std::string& message, const std::string& field = "");
// 400 for input that does not fit its format: {"error": e.what(), "field": e.field()}, the same
// words `cellblock run` prints for an invalid job; "field" is "" for the whole document.
Response invalid_input(const FieldError& e);
// A body of plain text (text/plain; charset=utf-8).
Response text_response(http::status status, std::string body, const std::string& content_type = "text/plain; charset=utf-8");

}  // namespace cellblock::service
