// The job format's files in ("files") and out ("collect", the result's "collected"): paths only
// under /w, content or base64, host files only where the caller allows them.
#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"

namespace cellblock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json with(const char* key, json value) {
  json j = {{"rootfs", "/srv/root"}, {"command", {"/bin/true"}}};
  j[key] = std::move(value);
  return j;
}

std::string error_of(const json& j, HostFiles host_files = HostFiles::refused) {
  try {
    job_from_json(j, nullptr, host_files);
  } catch (const FieldError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(JobFilesJson, ContentAndBase64AreReadAsBytes) {
  JobSpec job = job_from_json(with("files", {{"/w/a.txt", {{"content", "hello\n"}}},
                                             {"/w/dir/bin", {{"base64", "AP8BAg=="}}}}));
  ASSERT_EQ(job.files.size(), 2u);
  EXPECT_EQ(job.files[0].path, "/w/a.txt");
  EXPECT_EQ(job.files[0].content, "hello\n");
  EXPECT_EQ(job.files[1].path, "/w/dir/bin");
  EXPECT_EQ(job.files[1].content, std::string("\x00\xff\x01\x02", 4));
}

TEST(JobFilesJson, PathsMustBePlainAndUnderTheWorkingDirectory) {
  EXPECT_THAT(error_of(with("files", {{"/etc/passwd", {{"content", "x"}}}})),
              HasSubstr("files.\"/etc/passwd\": \"/etc/passwd\" is not under /w/"));
  EXPECT_THAT(error_of(with("files", {{"/w/../etc/x", {{"content", "x"}}}})), HasSubstr("\"..\" component"));
  EXPECT_THAT(error_of(with("files", {{"/w//x", {{"content", "x"}}}})), HasSubstr("empty"));
  EXPECT_THAT(error_of(with("files", {{"/w/", {{"content", "x"}}}})), HasSubstr("must not be empty"));
  EXPECT_THAT(error_of(with("collect", {{{"path", "w/x"}}})), HasSubstr("collect[0].path: \"w/x\" is not under /w/"));
  EXPECT_THAT(error_of(with("collect", {{{"path", "/w/./x"}}})), HasSubstr("collect[0].path"));
}

TEST(JobFilesJson, EachFileHasExactlyOneSource) {
  EXPECT_THAT(error_of(with("files", {{"/w/a", {{"content", "x"}, {"base64", "eA=="}}}})),
              HasSubstr("files.\"/w/a\": expected exactly one of"));
  EXPECT_THAT(error_of(with("files", {{"/w/a", {{"text", "x"}}}})), HasSubstr("files.\"/w/a\""));
  EXPECT_THAT(error_of(with("files", {{"/w/a", {{"base64", "not base64!"}}}})),
              HasSubstr("files.\"/w/a\".base64: not standard base64"));
  EXPECT_THAT(error_of(with("files", {{"/w/a", {{"base64", "eA="}}}})), HasSubstr("not standard base64"));
}

TEST(JobFilesJson, HostFilesOnlyWhereTheCallerAllowsThem) {
  char name[] = "/tmp/cellblock-src-XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "from the host", 13), 13);
  ::close(fd);
  const json job = with("files", {{"/w/in", {{"src", name}}}});
  EXPECT_THAT(error_of(job), HasSubstr("files.\"/w/in\".src"));
  EXPECT_THAT(error_of(job), HasSubstr("only on the command line"));
  JobSpec read = job_from_json(job, nullptr, HostFiles::read);
  ASSERT_EQ(read.files.size(), 1u);
  EXPECT_EQ(read.files[0].content, "from the host");
  ::unlink(name);
  EXPECT_THAT(error_of(job, HostFiles::read), HasSubstr("files.\"/w/in\".src"));
  EXPECT_THAT(error_of(with("files", {{"/w/in", {{"src", "relative"}}}}), HostFiles::read),
              HasSubstr("not an absolute host path"));
}

TEST(JobFilesJson, CollectHasADefaultCapAndRefusesDuplicates) {
  JobSpec job = job_from_json(with("collect", {{{"path", "/w/out.xml"}}, {{"path", "/w/b"}, {"max_bytes", 10}}}));
  ASSERT_EQ(job.collect.size(), 2u);
  EXPECT_EQ(job.collect[0].max_bytes, 1u << 20);
  EXPECT_EQ(job.collect[1].max_bytes, 10u);
  EXPECT_THAT(error_of(with("collect", {{{"path", "/w/a"}}, {{"path", "/w/a"}}})), HasSubstr("collected twice"));
  EXPECT_THAT(error_of(with("collect", {{{"path", "/w/a"}, {"max", 1}}})), HasSubstr("collect[0]"));
}

TEST(JobFilesJson, JobToJsonRoundTripsBinaryFiles) {
  JobSpec job = job_from_json(with("files", {{"/w/bin", {{"base64", "AP8BAg=="}}}, {"/w/t", {{"content", "text"}}}}));
  job.collect.push_back({"/w/out", 5});
  const json j = job_to_json(job);
  EXPECT_EQ(j["files"]["/w/bin"], json({{"base64", "AP8BAg=="}}));
  EXPECT_EQ(j["files"]["/w/t"], json({{"content", "text"}}));
  JobSpec again = job_from_json(j);
  ASSERT_EQ(again.files.size(), 2u);
  EXPECT_EQ(again.files[0].content, std::string("\x00\xff\x01\x02", 4));
  ASSERT_EQ(again.collect.size(), 1u);
  EXPECT_EQ(again.collect[0].max_bytes, 5u);
}

TEST(JobFilesJson, CollectedFilesAreTextBase64OrAnError) {
  Result r;
  r.status = Status::exited;
  r.exit_code = 0;
  r.collected.push_back({"/w/t", {FileRead::ok, "text", ""}});
  r.collected.push_back({"/w/b", {FileRead::ok, std::string("\xff\x00", 2), ""}});
  r.collected.push_back({"/w/l", {FileRead::not_regular, "", "is a symbolic link: refused"}});
  const json j = result_to_json(r);
  EXPECT_EQ(j["collected"]["/w/t"], json({{"content", "text"}}));
  EXPECT_EQ(j["collected"]["/w/b"], json({{"base64", "/wA="}}));
  EXPECT_EQ(j["collected"]["/w/l"], json({{"error", "is a symbolic link: refused"}, {"reason", "not_regular"}}));
  Result back = result_from_json(j);
  ASSERT_EQ(back.collected.size(), 3u);
  for (const CollectedFile& f : back.collected) {
    if (f.path == "/w/b") EXPECT_EQ(f.read.content, std::string("\xff\x00", 2));
    if (f.path == "/w/l") EXPECT_EQ(f.read.outcome, FileRead::not_regular);
  }
  EXPECT_FALSE(result_to_json(Result{}).contains("collected"));
}

}  // namespace
}  // namespace cellblock
