// The Prometheus registry and its text exposition (jobs/metrics/metrics.h). That `promtool check
// metrics` accepts the service's whole /metrics is checked in service_api_test.cc.
#include <gmock/gmock.h>

#include <cmath>
#include <thread>

#include "jobs/metrics/metrics.h"

namespace cellblock::metrics {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, CountersWithLabelsAreExposedInTheTextFormat) {
  Registry r;
  auto& jobs = r.counter("demo_jobs_total", "Jobs by status", {"status"});
  jobs.with({"exited"}).inc();
  jobs.with({"exited"}).inc(2);
  jobs.with({"say \"hi\"\n\\"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP demo_jobs_total Jobs by status\n"
            "# TYPE demo_jobs_total counter\n"
            "demo_jobs_total{status=\"exited\"} 3\n"
            "demo_jobs_total{status=\"say \\\"hi\\\"\\n\\\\\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  auto& h = r.histogram("demo_seconds", "A duration", {0.1, 1, 10}).get();
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) h.observe(v);
  const std::string text = r.expose();
  EXPECT_THAT(text, HasSubstr("# TYPE demo_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("demo_seconds_bucket{le=\"0.1\"} 2\n"));  // 0.1 is in its own bucket
  EXPECT_THAT(text, HasSubstr("demo_seconds_bucket{le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("demo_seconds_bucket{le=\"10\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("demo_seconds_bucket{le=\"+Inf\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("demo_seconds_sum 55.65\n"));
  EXPECT_THAT(text, HasSubstr("demo_seconds_count 5\n"));
}

TEST(Metrics, GaugeFunctionsAreReadWhenScraped) {
  Registry r;
  double depth = 3;
  r.gauge_fn("demo_queue_depth", "Jobs waiting", [&] { return depth; });
  r.gauge_fn("demo_info", "Build", [] { return 1.0; }, {"version"}, {"1.2"});
  EXPECT_THAT(r.expose(), HasSubstr("demo_queue_depth 3\n"));
  depth = 7;
  EXPECT_THAT(r.expose(), HasSubstr("demo_queue_depth 7\n"));
  EXPECT_THAT(r.expose(), HasSubstr("demo_info{version=\"1.2\"} 1\n"));
}

TEST(Metrics, BadNamesAndDuplicatesAreRefused) {
  Registry r;
  r.counter("demo_total", "x");
  EXPECT_THROW(r.counter("demo_total", "again"), std::invalid_argument);
  EXPECT_THROW(r.counter("demo_count", "no _total"), std::invalid_argument);
  EXPECT_THROW(r.gauge("2bad", "starts with a digit"), std::invalid_argument);
  EXPECT_THROW(r.gauge("demo_g", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("demo_h", "x", {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.counter("demo2_total", "x", {"a"}).with({}), std::invalid_argument);
}

TEST(Metrics, ValuesAreWrittenAsTheFormatSays) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.004), "0.004");
  EXPECT_EQ(format_value(0.1 + 0.2), "0.30000000000000004");  // exact: reads back as the same double
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& c = r.counter("demo_hits_total", "x", {"route"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.with({"/v1/jobs"}).inc();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"/v1/jobs"}).value(), 40000);
}

}  // namespace
}  // namespace cellblock::metrics
