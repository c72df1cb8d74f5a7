// The service's router (jobs/service/router.h): patterns, parameters, 404 and 405, the query.
#include <gmock/gmock.h>

#include "jobs/service/router.h"

namespace cellblock::service {
namespace {

Handler noop() {
  return [](Call&, ResponderPtr) {};
}

TEST(Router, MatchesPatternsAndNamesTheirParameters) {
  Router r;
  r.add(http::verb::get, "/v1/jobs", noop());
  r.add(http::verb::post, "/v1/jobs", noop());
  r.add(http::verb::get, "/v1/jobs/{id}", noop());
  r.add(http::verb::get, "/v1/jobs/{id}/wait", noop());
  r.add(http::verb::get, "/v1/jobs/stats", noop());  // a literal segment wins over {id}

  auto m = r.match(http::verb::get, "/v1/jobs/abc/wait");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/v1/jobs/{id}/wait");
  EXPECT_EQ(m.params.at("id"), "abc");
  EXPECT_EQ(r.match(http::verb::get, "/v1/jobs/stats").route, "/v1/jobs/stats");
  EXPECT_EQ(r.match(http::verb::get, "/v1/jobs/").route, "/v1/jobs");  // an empty segment is no segment

  auto missing = r.match(http::verb::get, "/v1/nothing");
  EXPECT_EQ(missing.handler, nullptr);
  EXPECT_EQ(missing.status, http::status::not_found);
  EXPECT_EQ(missing.route, "unmatched");

  auto wrong = r.match(http::verb::delete_, "/v1/jobs");
  EXPECT_EQ(wrong.handler, nullptr);
  EXPECT_EQ(wrong.status, http::status::method_not_allowed);
  EXPECT_EQ(wrong.allow, "GET, POST");
  EXPECT_EQ(wrong.route, "/v1/jobs");
}

TEST(Router, RefusesTheSameRouteTwice) {
  Router r;
  r.add(http::verb::get, "/file/{id}", noop());
  EXPECT_THROW(r.add(http::verb::get, "/file/{id}", noop()), std::invalid_argument);
  EXPECT_NO_THROW(r.add(http::verb::delete_, "/file/{id}", noop()));
  EXPECT_THROW(r.add(http::verb::get, "file", noop()), std::invalid_argument);
}

TEST(Router, SplitsAndDecodesTheTarget) {
  auto [path, query] = split_target("/v1/jobs%2Fx?state=done&limit=5&after=&q=a+b%21&flag");
  EXPECT_EQ(path, "/v1/jobs/x");
  EXPECT_EQ(query.at("state"), "done");
  EXPECT_EQ(query.at("limit"), "5");
  EXPECT_EQ(query.at("after"), "");
  EXPECT_EQ(query.at("q"), "a b!");
  EXPECT_EQ(query.at("flag"), "");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
}

}  // namespace
}  // namespace cellblock::service
