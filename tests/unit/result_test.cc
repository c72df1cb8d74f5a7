#include "executor/result.h"

#include <gtest/gtest.h>

namespace cellblock {
namespace {

TEST(Status, NamesRoundTrip) {
  for (Status s : {Status::exited, Status::signaled, Status::wall_time_limit, Status::cpu_time_limit,
                   Status::memory_limit, Status::output_limit, Status::setup_error,
                   Status::internal_error, Status::cancelled, Status::queue_timeout,
                   Status::invalid_job}) {
    auto back = status_from_string(to_string(s));
    ASSERT_TRUE(back.has_value()) << to_string(s);
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(status_from_string("exploded").has_value());
}

}  // namespace
}  // namespace cellblock
