// The result JSON format (docs/job-format.md): what a job's Result looks like on stdout, in
// `cellblock batch` output, and to whoever reads it back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "executor/result.h"

namespace cellblock {

nlohmann::json result_to_json(const Result& result);
// Throws FieldError ("status") for an unknown status, nlohmann's errors for missing keys.
Result result_from_json(const nlohmann::json& j);

// Serialises for output; invalid UTF-8 in captured output is replaced, never fatal.
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace cellblock
