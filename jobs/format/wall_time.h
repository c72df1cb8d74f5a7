// Wall-clock times as the APIs show them: milliseconds since the Unix epoch, and the same as an
// ISO 8601 UTC string for records ("submitted_at").
#pragma once

#include <cstdint>
#include <string>

namespace cellblock {

int64_t unix_ms();
// 2026-12-04T16:30:00.123Z
std::string iso_time(int64_t ms);

}  // namespace cellblock
