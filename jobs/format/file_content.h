// A file's bytes in JSON, both ways: {"content": "text"} when they are valid UTF-8, else
// {"base64": "..."}. Used by the job format's "files" (in) and the result's "collected" (out),
// so that a binary file survives JSON unchanged. Base64 and UTF-8 checks are GLib's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cellblock {

bool is_utf8(const std::string& bytes);
// {"content": bytes} or {"base64": ...}.
nlohmann::json content_to_json(const std::string& bytes);
// Standard base64 with padding; throws FieldError(field) for anything else.
std::string decode_base64(const std::string& text, const std::string& field);

}  // namespace cellblock
