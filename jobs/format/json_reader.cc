#include "jobs/format/json_reader.h"

#include <cmath>

namespace cellblock {

using nlohmann::json;

namespace {

std::string join_error(const std::string& source, const std::string& field, const std::string& reason) {
  std::string out;
  if (!source.empty()) out += source + ": ";
  if (!field.empty()) out += field + ": ";
  return out + reason;
}

}  // namespace

FieldError::FieldError(std::string field, std::string reason, std::string source)
    : std::runtime_error(join_error(source, field, reason)),
      field_(std::move(field)),
      reason_(std::move(reason)),
      source_(std::move(source)) {}

std::string key_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string describe(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string json_quoted(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_json_text(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string msg = e.what();
    auto pos = msg.find("] ");
    throw FieldError("", "invalid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos + 2)), source);
  }
}

void require_object(const json& j, const std::string& path) {
  if (!j.is_object()) throw FieldError(path, "expected an object, got " + describe(j));
}

void require_object(const json& j, const std::string& path, std::initializer_list<std::string_view> known) {
  require_object(j, path);
  reject_unknown_keys(j, path, known);
}

void require_array(const json& j, const std::string& path, std::string_view of) {
  if (!j.is_array())
    throw FieldError(path, "expected an array" + (of.empty() ? "" : " of " + std::string(of)) + ", got " + describe(j));
}

void reject_unknown_keys(const json& j, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || it.key() == k;
    if (ok) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw FieldError(key_path(path, it.key()), "unknown key (known keys: " + list + ")");
  }
}

const json& require_key(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key)) throw FieldError(key_path(path, key), "is required");
  return j[key];
}

std::string read_string(const json& v, const std::string& path, bool allow_empty) {
  if (!v.is_string()) throw FieldError(path, "expected a string, got " + describe(v));
  auto s = v.get<std::string>();
  if (s.find('\0') != std::string::npos) throw FieldError(path, "must not contain a NUL character");
  if (!allow_empty && s.empty()) throw FieldError(path, "must not be empty");
  return s;
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) throw FieldError(path, "expected true or false, got " + describe(v));
  return v.get<bool>();
}

uint64_t read_uint(const json& v, const std::string& path, uint64_t min, uint64_t max, std::string_view why_min) {
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    throw FieldError(path, "expected a whole number, got " + describe(v));
  if (v.is_number_float() ? v.get<double>() < 0 : (v.is_number_unsigned() ? false : v.get<int64_t>() < 0))
    throw FieldError(path, "must not be negative, got " + describe(v));
  const std::string too_large = describe(v) + " is too large (at most " + std::to_string(max) + ")";
  double as_double = v.get<double>();
  if (as_double > static_cast<double>(max)) throw FieldError(path, too_large);
  uint64_t n = v.is_number_float() ? static_cast<uint64_t>(as_double) : v.get<uint64_t>();
  if (n > max) throw FieldError(path, too_large);
  if (n < min) {
    std::string reason = describe(v) + " is too small (at least " + std::to_string(min);
    if (!why_min.empty()) reason += ": " + std::string(why_min);
    throw FieldError(path, reason + ")");
  }
  return n;
}

double read_double(const json& v, const std::string& path, double min, double max) {
  if (!v.is_number()) throw FieldError(path, "expected a number, got " + describe(v));
  double d = v.get<double>();
  if (!(d >= min && d <= max))
    throw FieldError(path, describe(v) + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
  return d;
}

}  // namespace cellblock
