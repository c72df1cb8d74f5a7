// Jobs from images in `cellblock serve` and `cellblock worker`: a client names an image the
// operator imported (`cellblock image import`), never a host path of its own choosing; a tag
// that moves is followed; an image job journaled by a service that died runs after its restart
// (jobs/service/image_jobs.h, jobs/images/image_sources.h, docs/images.md).
#include <signal.h>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "tests/integration/images_test_util.h"
#include "tests/integration/service_test_util.h"
#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::string oci_ref(const std::string& layout, const std::string& tag) { return "oci:" + layout + ":" + tag; }

// Imports `ref` into the scratch's state directory, as the operator would.
void import_image(const Scratch& s, const std::string& ref) {
  Shelled r = cellblock(s.state_dir(), "image import -q " + ref);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string post_body(const std::string& image) { return json{{"image", image}}.dump(); }

// A copy of the test image's layout at s.path(name), for a test that changes or removes it.
std::string copy_of_fixture(const Scratch& s, const std::string& name) {
  const std::string layout = s.path(name);
  Shelled r = shell("cp -a " + fixture() + "/oci " + layout, s.path("cp-" + name));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return layout;
}

// POST of a job in `image` with ?wait: the command's stdout, or the body when it did not end well.
std::string stdout_of(const Scratch& s, const Serve& serve, const std::string& image) {
  Http r = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(image)}, "/v1/jobs?wait=60");
  if (r.code != 200) return "HTTP " + std::to_string(r.code) + ": " + r.body;
  return json::parse(r.body)["result"].value("stdout", r.body);
}

// Tag "test" of `layout` names a new config now (a new manifest, a new index.json), as a rebuilt
// image would: its command prints "moved".
void move_tag(const Scratch& s, const std::string& layout) {
  Shelled moved = shell("umoci config --no-history --image " + layout + ":test --clear config.cmd --config.cmd sh "
                        "--config.cmd -c --config.cmd 'echo moved'",
                        s.path("umoci"));
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
}

TEST(ImagesServe, AnImportedImageRunsAndAnyOtherIsRefusedNamingTheImage) {
  Scratch s("serve-image");
  const std::string ref = oci_ref(fixture() + "/oci", "test");
  import_image(s, ref);
  Serve serve(s, "serve", {});

  Http ran = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(ref)}, "/v1/jobs?wait=60");
  ASSERT_EQ(ran.code, 200) << ran.body;
  json record = json::parse(ran.body);
  EXPECT_EQ(record["result"]["status"], "exited") << ran.body;
  EXPECT_EQ(record["result"]["stdout"], kMergedTree) << ran.body;

  // A good image the operator never imported, at a path a client names: the service does not read it.
  const std::string elsewhere = oci_ref(copy_of_fixture(s, "planted"), "test");
  Http refused = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(elsewhere)}, "/v1/jobs");
  ASSERT_EQ(refused.code, 400) << refused.body;
  json error = json::parse(refused.body);
  EXPECT_EQ(error["field"], "image");
  EXPECT_THAT(error["error"].get<std::string>(), HasSubstr("not imported on this host"));
  EXPECT_THAT(error["error"].get<std::string>(), HasSubstr(s.path("planted")));

  // In a batch the job is named, and nothing of the batch is queued.
  json batch = {{"jobs", {{{"image", ref}}, {{"image", elsewhere}}}}};
  Http half = curl_unix(s, serve, {"-X", "POST", "--data-binary", batch.dump()}, "/v1/jobs");
  ASSERT_EQ(half.code, 400) << half.body;
  EXPECT_EQ(json::parse(half.body)["field"], "jobs[1].image");
  Http listed = curl_unix(s, serve, {}, "/v1/jobs");
  ASSERT_EQ(listed.code, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["jobs"].size(), 1u) << listed.body;

  // And plain jobs go on.
  Http plain = curl_unix(s, serve, {"-X", "POST", "--data-binary", json{{"command", {"/bin/true"}}}.dump()},
                         "/v1/jobs?wait=60");
  EXPECT_EQ(plain.code, 200) << plain.body;

  // `image rm` takes the image away from the running service at once.
  ASSERT_EQ(cellblock(s.state_dir(), "image rm " + ref).exit_code, 0);
  Http removed = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(ref)}, "/v1/jobs");
  ASSERT_EQ(removed.code, 400) << removed.body;
  EXPECT_THAT(json::parse(removed.body)["error"].get<std::string>(), HasSubstr("not imported on this host"));
}

TEST(ImagesServe, ATagThatMovesRunsWhatItNamesNow) {
  Scratch s("serve-image-moves");
  const std::string layout = copy_of_fixture(s, "layout");
  const std::string ref = oci_ref(layout, "test");
  import_image(s, ref);
  Serve serve(s, "serve", {});
  EXPECT_EQ(stdout_of(s, serve, ref), kMergedTree);
  move_tag(s, layout);
  EXPECT_EQ(stdout_of(s, serve, ref), "moved\n");
}

// `image import` copies the layers into the cache: the source may go, and the image still runs.
TEST(ImagesServe, AnImportedImageWhoseSourceIsGoneStillRuns) {
  Scratch s("serve-image-gone");
  const std::string layout = copy_of_fixture(s, "gone");
  const std::string ref = oci_ref(layout, "test");
  import_image(s, ref);
  std::filesystem::remove_all(layout);
  Serve serve(s, "serve", {});
  EXPECT_EQ(stdout_of(s, serve, ref), kMergedTree);
}

// Two image jobs wait when the service dies; while it is down one's tag moves. After the restart
// the other runs its image, and the moved one ends invalid_job: never the new layers with the
// config (command, env) it was accepted with.
TEST(ImagesServe, AQueuedImageJobRunsAfterAKill9AndARestart) {
  Scratch s("serve-image-crash");
  const std::string ref = oci_ref(fixture() + "/oci", "test");
  const std::string layout = copy_of_fixture(s, "moves");
  const std::string moves = oci_ref(layout, "test");
  import_image(s, ref);
  import_image(s, moves);
  Serve serve(s, "serve", {"--parallel", "1"});
  // One slot, held by a long job: the image job waits behind it.
  Http blocker = curl_unix(s, serve, {"-X", "POST", "--data-binary", json{{"command", {"sleep", "600"}}}.dump()},
                           "/v1/jobs");
  ASSERT_EQ(blocker.code, 202) << blocker.body;
  Http queued = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(ref)}, "/v1/jobs");
  ASSERT_EQ(queued.code, 202) << queued.body;
  const std::string id = json::parse(queued.body)["id"];
  EXPECT_EQ(json::parse(curl_unix(s, serve, {}, "/v1/jobs/" + id).body)["state"], "queued");
  Http queued_moves = curl_unix(s, serve, {"-X", "POST", "--data-binary", post_body(moves)}, "/v1/jobs");
  ASSERT_EQ(queued_moves.code, 202) << queued_moves.body;
  const std::string moves_id = json::parse(queued_moves.body)["id"];

  serve.kill9();
  move_tag(s, layout);
  serve.start();
  // The blocker runs again (its second attempt); cancelled, it gives the slot to the image job.
  const std::string blocker_id = json::parse(blocker.body)["id"];
  EXPECT_EQ(curl_unix(s, serve, {"-X", "DELETE"}, "/v1/jobs/" + blocker_id).code, 200);
  Http done = curl_unix(s, serve, {}, "/v1/jobs/" + id + "/wait?timeout=60");
  ASSERT_EQ(done.code, 200) << done.body;
  json record = json::parse(done.body);
  EXPECT_EQ(record["state"], "done") << done.body;
  EXPECT_EQ(record["result"]["stdout"], kMergedTree) << done.body;
  Http pinned = curl_unix(s, serve, {}, "/v1/jobs/" + moves_id + "/wait?timeout=60");
  ASSERT_EQ(pinned.code, 200) << pinned.body;
  json pinned_record = json::parse(pinned.body);
  EXPECT_EQ(pinned_record["result"]["status"], "invalid_job") << pinned.body;
  EXPECT_THAT(pinned_record["result"]["error"].get<std::string>(), HasSubstr("the tag moved")) << pinned.body;
}

TEST(ImagesWorker, AWorkerRunsAnImportedImageAndRefusesAnyOtherWithTheReason) {
  Scratch s("worker-image");
  const std::string ref = oci_ref(fixture() + "/oci", "test");
  import_image(s, ref);
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w0");
  std::vector<json> jobs{{{"id", "img"}, {"image", ref}},
                         {{"id", "nope"}, {"image", oci_ref(s.path("planted"), "x")}},
                         {{"id", "plain"}, {"command", {"/bin/true"}}}};
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs));
  ASSERT_EQ(submit->wait(budget(jobs.size())), 0) << submit->err();
  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), 3u) << submit->out();
  EXPECT_EQ(by_id["img"]["status"], "exited") << by_id["img"].dump();
  EXPECT_EQ(by_id["img"]["stdout"], kMergedTree) << by_id["img"].dump();
  EXPECT_EQ(by_id["nope"]["status"], "invalid_job") << by_id["nope"].dump();
  EXPECT_THAT(by_id["nope"]["error"].get<std::string>(), HasSubstr("not imported on this host"));
  EXPECT_EQ(by_id["plain"]["exit_code"], 0) << by_id["plain"].dump();
  worker->signal(SIGTERM);
  EXPECT_EQ(worker->wait(budget(0)), 0) << worker->err();
}

}  // namespace
}  // namespace cellblock::test
