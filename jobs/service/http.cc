#include "jobs/service/http.h"

#include "jobs/format/json_reader.h"
#include "jobs/format/result_json.h"

namespace cellblock::service {

Response text_response(http::status status, std::string body, const std::string& content_type) {
  Response r{status, 11};
  r.set(http::field::content_type, content_type);
  r.body() = std::move(body);
  return r;
}

Response json_response(http::status status, const nlohmann::json& body) {
  return text_response(status, dump_json(body) + "\n", "application/json");
}

Response error_response(http::status status, const std::string& message, const std::string& field) {
  nlohmann::json j{{"error", message.empty() ? std::string(http::obsolete_reason(status)) : message}};
  if (!field.empty()) j["field"] = field;
  return json_response(status, j);
}

Response invalid_input(const FieldError& e) {
  // "field" is always there: "" names the whole document (e.g. JSON that does not parse).
  return json_response(http::status::bad_request, {{"error", e.what()}, {"field", e.field()}});
}

}  // namespace cellblock::service
