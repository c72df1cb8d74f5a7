#include "executor/result.h"

#include <array>
#include <utility>

namespace cellblock {
namespace {
constexpr std::array<std::pair<Status, std::string_view>, 11> kNames{{
    {Status::exited, "exited"},
    {Status::signaled, "signaled"},
    {Status::wall_time_limit, "wall_time_limit"},
    {Status::cpu_time_limit, "cpu_time_limit"},
    {Status::memory_limit, "memory_limit"},
    {Status::output_limit, "output_limit"},
    {Status::setup_error, "setup_error"},
    {Status::internal_error, "internal_error"},
    {Status::cancelled, "cancelled"},
    {Status::queue_timeout, "queue_timeout"},
    {Status::invalid_job, "invalid_job"},
}};
}  // namespace

std::string_view to_string(Status s) noexcept {
  for (auto& [status, name] : kNames)
    if (status == s) return name;
  return "internal_error";
}

std::optional<Status> status_from_string(std::string_view s) noexcept {
  for (auto& [status, name] : kNames)
    if (name == s) return status;
  return std::nullopt;
}

}  // namespace cellblock
