#include "jobs/cli/job_flags.h"

#include <gmock/gmock.h>

#include "jobs/format/job_json.h"

namespace cellblock {
namespace {

using ::testing::HasSubstr;

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64M"), 64u << 20);
  EXPECT_EQ(parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_size("512k"), 512u << 10);
  EXPECT_THROW(parse_size("lots"), std::invalid_argument);
  EXPECT_THROW(parse_size("-1M"), std::invalid_argument);
  EXPECT_THROW(parse_size("5X"), std::invalid_argument);
}

TEST(ParseDuration, UnitsAndErrors) {
  EXPECT_EQ(parse_duration_ms("1500"), 1500u);
  EXPECT_EQ(parse_duration_ms("500ms"), 500u);
  EXPECT_EQ(parse_duration_ms("2s"), 2000u);
  EXPECT_EQ(parse_duration_ms("1.5m"), 90000u);
  EXPECT_THROW(parse_duration_ms("soon"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ms("5 days"), std::invalid_argument);
}

TEST(JobFlags, BecomeTheSameJobAFileWouldHold) {
  JobFlags f;
  f.rootfs = "/srv/root";
  f.command = {"/bin/sh", "-c", "echo hi"};
  f.env = {"A=1", "B=x=y"};
  f.mounts = {"/host/in:/in", "/host/out:/out:rw"};
  f.wall_time = "2s";
  f.memory = "64M";
  f.pids = 16;
  f.io = {"254:0:write_bps=16M,read_iops=100"};
  JobSpec j = job_from_json(f.apply(nullptr));
  EXPECT_EQ(j.rootfs, "/srv/root");
  EXPECT_EQ(j.env.at("B"), "x=y");
  ASSERT_EQ(j.mounts.size(), 2u);
  EXPECT_TRUE(j.mounts[0].readonly);
  EXPECT_FALSE(j.mounts[1].readonly);
  EXPECT_EQ(j.mounts[1].target, "/out");
  EXPECT_EQ(j.limits.wall_time_ms, 2000u);
  EXPECT_EQ(j.limits.memory_bytes, 64u << 20);
  EXPECT_EQ(j.limits.pids, 16u);
  ASSERT_EQ(j.limits.io.size(), 1u);
  EXPECT_EQ(j.limits.io[0].device, "254:0");
  EXPECT_EQ(j.limits.io[0].write_bps, 16u << 20);
  EXPECT_EQ(j.limits.io[0].read_iops, 100u);
}

TEST(JobFlags, OverrideAJobFile) {
  JobFlags f;
  f.wall_time = "1s";
  nlohmann::json file = {{"rootfs", "/r"}, {"command", {"x"}}, {"limits", {{"wall_time_ms", 9000}, {"pids", 3}}}};
  JobSpec j = job_from_json(f.apply(file));
  EXPECT_EQ(j.limits.wall_time_ms, 1000u);
  EXPECT_EQ(j.limits.pids, 3u);
}

TEST(JobFlags, BadValuesNameTheFlag) {
  JobFlags f;
  f.env = {"NOEQUALS"};
  EXPECT_THROW(f.apply(nullptr), FieldError);
  f.env.clear();
  f.mounts = {"/only-source"};
  try {
    f.apply(nullptr);
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--mount: \"/only-source\" is not SRC:DST"));
  }
}

TEST(JobFlags, RelativeHostPathsBecomeAbsolute) {
  JobFlags f;
  f.rootfs = "rootfs";
  f.command = {"x"};
  JobSpec j = job_from_json(f.apply(nullptr));
  EXPECT_EQ(j.rootfs[0], '/');
  EXPECT_TRUE(j.rootfs.ends_with("/rootfs"));
}

}  // namespace
}  // namespace cellblock
