// The pure parts of jobs/images: references, digests, configs, entry paths, the image user, the
// config applied to a job, gc's choice; and the job format's "image".
#include <gmock/gmock.h>

#include <unistd.h>

#include <filesystem>

#include "executor/base/sys_error.h"
#include "executor/plan.h"
#include "jobs/format/job_json.h"
#include "jobs/format/policy_json.h"
#include "jobs/images/image_config.h"
#include "jobs/images/image_gc.h"
#include "jobs/images/image_job.h"
#include "jobs/images/image_ref.h"
#include "jobs/images/layer_unpacker.h"
#include "jobs/images/sha256.h"

namespace cellblock::images {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ImagesRef, ParsesBothTransportsAndTags) {
  ImageRef r = parse_image_ref("oci:/srv/img:v1");
  EXPECT_EQ(r.transport, Transport::oci);
  EXPECT_EQ(r.path, "/srv/img");
  EXPECT_EQ(r.tag, "v1");
  EXPECT_EQ(r.text(), "oci:/srv/img:v1");
  r = parse_image_ref("docker-archive:/srv/a.tar:docker.io/library/busybox:1.36");
  EXPECT_EQ(r.transport, Transport::docker_archive);
  EXPECT_EQ(r.path, "/srv/a.tar");
  EXPECT_EQ(r.tag, "docker.io/library/busybox:1.36");
  EXPECT_EQ(parse_image_ref("oci:/srv/img/").text(), "oci:/srv/img");
  EXPECT_EQ(parse_image_ref("oci:/srv/../srv/img").path, "/srv/img");
}

TEST(ImagesRef, RefusesWhatItCannotName) {
  EXPECT_THROW(parse_image_ref("docker://busybox"), std::invalid_argument);
  EXPECT_THROW(parse_image_ref("oci:"), std::invalid_argument);
  EXPECT_THROW(parse_image_ref("oci:/x:"), std::invalid_argument);
  EXPECT_THROW(parse_image_ref("docker-archive:/a.tar:notag"), std::invalid_argument);
}

TEST(ImagesDigest, Sha256AndStrictDigests) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string hex(64, 'a');
  EXPECT_EQ(parse_digest("sha256:" + hex, "x"), hex);
  EXPECT_THROW(parse_digest("sha512:" + hex, "x"), std::invalid_argument);
  EXPECT_THROW(parse_digest("sha256:" + std::string(63, 'a'), "x"), std::invalid_argument);
  EXPECT_THROW(parse_digest("sha256:" + std::string(62, 'a') + "/.", "x"), std::invalid_argument);
  EXPECT_THROW(parse_digest("sha256:" + std::string(64, 'A'), "x"), std::invalid_argument);
}

TEST(ImagesUnpack, EntryPathsStayInTheLayer) {
  EXPECT_EQ(clean_entry_path("./usr/bin/"), "usr/bin");
  EXPECT_EQ(clean_entry_path("/etc//passwd"), "etc/passwd");
  EXPECT_EQ(clean_entry_path("."), "");
  EXPECT_EQ(clean_entry_path("a/./b"), "a/b");
  EXPECT_THROW(clean_entry_path("../x"), std::invalid_argument);
  EXPECT_THROW(clean_entry_path("a/../../x"), std::invalid_argument);
  EXPECT_THROW(clean_entry_path("/.."), std::invalid_argument);
}

TEST(ImagesConfig, ReadsTheDefaultsAndDiffIds) {
  std::string id(64, 'b');
  auto c = parse_image_config(nlohmann::json::parse(R"({"os":"linux","architecture":"amd64",
      "config":{"Env":["A=1"],"Entrypoint":["/e"],"Cmd":["x"],"WorkingDir":"/w","User":"7:8"},
      "rootfs":{"type":"layers","diff_ids":["sha256:)" + id + R"("]}})"));
  EXPECT_THAT(c.env, ElementsAre("A=1"));
  EXPECT_THAT(c.entrypoint, ElementsAre("/e"));
  EXPECT_EQ(c.working_dir, "/w");
  EXPECT_EQ(c.user, "7:8");
  EXPECT_THAT(c.diff_ids, ElementsAre(id));
  EXPECT_THROW(parse_image_config(nlohmann::json::parse(R"({"rootfs":{"type":"layers","diff_ids":["md5:x"]}})")),
               std::invalid_argument);
}

TEST(ImagesJob, TheJobsFieldsOverrideTheConfig) {
  ImageConfig c;
  c.env = {"PATH=/bin", "A=image"};
  c.entrypoint = {"/entry"};
  c.cmd = {"arg"};
  c.working_dir = "/w";
  JobSpec job;
  job.image = "oci:/x";
  job.cwd = "";
  job.env["A"] = "job";
  apply_image_config(job, c, Identity{5, 6}, {"/l2", "/l1"});
  EXPECT_THAT(job.command, ElementsAre("/entry", "arg"));
  EXPECT_EQ(job.env["A"], "job");
  EXPECT_EQ(job.env["PATH"], "/bin");
  EXPECT_EQ(job.cwd, "/w");
  EXPECT_EQ(job.user, (Identity{5, 6}));
  EXPECT_THAT(job.lower_dirs, ElementsAre("/l2", "/l1"));

  JobSpec own;
  own.command = {"mine"};
  own.cwd = "/here";
  own.user = Identity{1, 1};
  apply_image_config(own, c, Identity{5, 6}, {"/l1"});
  EXPECT_THAT(own.command, ElementsAre("mine"));
  EXPECT_EQ(own.cwd, "/here");
  EXPECT_EQ(own.user, (Identity{1, 1}));

  JobSpec none;
  none.cwd = "";
  EXPECT_THROW(apply_image_config(none, ImageConfig{}, std::nullopt, {"/l1"}), std::invalid_argument);
  JobSpec empty_image;
  empty_image.command = {"x"};
  EXPECT_THROW(apply_image_config(empty_image, c, std::nullopt, {}), std::invalid_argument);
}

TEST(ImagesJob, TheImageUserByNumberOrName) {
  auto etc = [](const std::string& f) -> std::optional<std::string> {
    if (f == "passwd") return "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    if (f == "group") return "root:x:0:\nstaff:x:50:\n";
    return std::nullopt;
  };
  EXPECT_EQ(parse_image_user("1000", etc), (Identity{1000, 1001}));
  EXPECT_EQ(parse_image_user("1234", etc), (Identity{1234, 0}));
  EXPECT_EQ(parse_image_user("app", etc), (Identity{1000, 1001}));
  EXPECT_EQ(parse_image_user("app:staff", etc), (Identity{1000, 50}));
  EXPECT_EQ(parse_image_user("7:8", etc), (Identity{7, 8}));
  EXPECT_THROW(parse_image_user("ghost", etc), std::invalid_argument);
  EXPECT_THROW(parse_image_user("app:ghosts", etc), std::invalid_argument);
  EXPECT_THROW(parse_image_user("70000", etc), std::invalid_argument);
}

TEST(ImagesGc, KeepsTheMostRecentlyUsedWithinTheBudget) {
  std::vector<LayerInfo> layers = {{"base", 100}, {"a", 10}, {"b", 10}, {"c", 500}};
  std::vector<ImageRecord> images = {{"old", "", "", {"base", "c"}, 600, 1},
                                     {"new", "", "", {"base", "a"}, 110, 3},
                                     {"mid", "", "", {"base", "b"}, 110, 2}};
  EXPECT_THAT(images_over_budget(images, layers, 120), ElementsAre("old"));  // base counted once
  EXPECT_THAT(images_over_budget(images, layers, 115), ElementsAre("mid", "old"));
  EXPECT_TRUE(images_over_budget(images, layers, 1000).empty());
}

TEST(ImagesJobFormat, AJobNamesAnImageOrARootfs) {
  JobSpec j = job_from_json({{"image", "oci:/srv/img"}});
  EXPECT_EQ(j.image, "oci:/srv/img");
  EXPECT_TRUE(j.command.empty());
  EXPECT_EQ(j.cwd, "");  // the image's WorkingDir
  j = job_from_json({{"image", "oci:/srv/img"}, {"command", {"ls"}}, {"cwd", "/"}});
  EXPECT_EQ(j.cwd, "/");
  try {
    job_from_json({{"image", "oci:/srv/img"}, {"rootfs", "/r"}});
    FAIL() << "both accepted";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "image");
  }
  // A job's image replaces a default rootfs, and the other way round.
  EXPECT_EQ(job_from_json({{"image", "oci:/i"}}, {{"rootfs", "/r"}}).image, "oci:/i");
  EXPECT_EQ(job_from_json({{"rootfs", "/r"}, {"command", {"x"}}}, {{"image", "oci:/i"}}).rootfs, "/r");
  // Round trip, as the journal does.
  EXPECT_EQ(job_from_json(job_to_json(job_from_json({{"image", "oci:/i"}}))).image, "oci:/i");
}

TEST(ImagesJobFormat, AFrontEndThatCannotResolveImagesSaysSo) {
  JobSpec j = job_from_json({{"image", "oci:/srv/img"}});
  PolicyRegistry policies;
  try {
    prepare_job(j, policies);
    FAIL() << "accepted";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "image");
    EXPECT_THAT(e.what(), HasSubstr("are not run here"));
  }
}

}  // namespace
}  // namespace cellblock::images

namespace cellblock::images {
namespace {

// The executor's half: lower_dirs become overlay's lowerdir, top first, and more layers than
// mount(2)'s one page of options can hold are refused with the numbers, not cut short.
TEST(ImagesPlan, LowerDirsStackAndTooManySayWhy) {
  std::string base = ::testing::TempDir() + "cellblock-images-plan-" + std::to_string(::getpid());
  std::vector<std::string> dirs;
  for (int i = 0; i < 60; ++i) {
    dirs.push_back(base + "/" + std::string(64, static_cast<char>('a' + i % 26)) + std::to_string(i));
    std::filesystem::create_directories(dirs.back());
  }
  JobSpec job;
  job.image = "oci:/x";
  job.command = {"/bin/true"};
  job.lower_dirs = {dirs[1], dirs[0]};
  LaunchPlan plan = make_launch_plan(job, {"/stage"});
  EXPECT_THAT(plan.overlay_options, HasSubstr("lowerdir=" + dirs[1] + ":" + dirs[0] + ",upperdir="));

  job.lower_dirs = dirs;
  try {
    make_launch_plan(job, {"/stage"});
    FAIL() << "60 long layers accepted";
  } catch (const SetupError& e) {
    EXPECT_THAT(e.what(), HasSubstr("image \"oci:/x\": 60 layers make overlay options of"));
    EXPECT_THAT(e.what(), HasSubstr("mount(2) takes at most 4095"));
  }

  JobSpec unresolved;
  unresolved.image = "oci:/x";
  unresolved.command = {"/bin/true"};
  EXPECT_THROW(make_launch_plan(unresolved, {"/stage"}), SetupError);
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace cellblock::images
