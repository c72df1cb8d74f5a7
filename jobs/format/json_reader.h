// One strict way to read JSON input, shared by the job, policy and result formats (and by the
// front ends to come): every key known, every value of the right type and range, and one error
// type that names the field path of what is wrong.
//
// Paths name values the way a reader finds them in the document: "limits.memory_bytes",
// "mounts[1].target", "seccomp.syscalls[3].names[2]"; "" is the document itself.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cellblock {

// Input that does not fit its format: `field` is the path of the offending value, `reason` why,
// `source` the file it came from ("" for input given in memory). what() reads
// "source: field: reason", leaving out the parts that are empty:
//   policies/default.json: seccomp.syscalls[3].names[2]: unknown syscall "mountt"
//   limits.memory_bytes: 1000 is too small (at least 1048576: a process needs more than that to start)
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string field, std::string reason, std::string source = "");
  const std::string& field() const noexcept { return field_; }
  const std::string& reason() const noexcept { return reason_; }
  const std::string& source() const noexcept { return source_; }

 private:
  std::string field_;
  std::string reason_;
  std::string source_;
};

// "limits" + "cpus" -> "limits.cpus"; "" + "cpus" -> "cpus".
std::string key_path(const std::string& parent, std::string_view key);
// "mounts" + 1 -> "mounts[1]".
std::string index_path(const std::string& parent, size_t index);

// A value as an error message shows it: compact JSON, cut at 60 characters.
std::string describe(const nlohmann::json& value);
// A string as JSON writes it, in double quotes, for error messages.
std::string json_quoted(std::string_view s);

// Parses JSON text; a syntax error is a FieldError for the whole document ("invalid JSON: parse
// error at line 1, column 5: ...") from `source`.
nlohmann::json parse_json_text(std::string_view text, const std::string& source = "");

// Each of these throws FieldError naming `path` (or the key below it) and the reason.
void require_object(const nlohmann::json& j, const std::string& path);
// An object whose keys are all `known` (reject_unknown_keys).
void require_object(const nlohmann::json& j, const std::string& path, std::initializer_list<std::string_view> known);
// Unknown keys are errors naming the key, so a typo ("wall_time") never silently means "default".
void reject_unknown_keys(const nlohmann::json& j, const std::string& path,
                         std::initializer_list<std::string_view> known);
// An array; `of` says of what in the error ("strings": "expected an array of strings, got 3").
void require_array(const nlohmann::json& j, const std::string& path, std::string_view of = {});
// j[key], which must be there.
const nlohmann::json& require_key(const nlohmann::json& j, const std::string& path, const char* key);
// A string without NUL characters (they could not cross to the kernel), non-empty unless allowed.
std::string read_string(const nlohmann::json& v, const std::string& path, bool allow_empty = true);
bool read_bool(const nlohmann::json& v, const std::string& path);
// A whole number in [min, max]; 1e6 counts as whole. `why_min` explains the minimum.
uint64_t read_uint(const nlohmann::json& v, const std::string& path, uint64_t min, uint64_t max,
                   std::string_view why_min = {});
double read_double(const nlohmann::json& v, const std::string& path, double min, double max);

}  // namespace cellblock
