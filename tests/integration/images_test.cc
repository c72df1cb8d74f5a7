// Jobs from container images, end to end through the `cellblock` binary: fixtures built at test
// time by umoci and skopeo (tests/images/make-image) and hostile layers crafted as real OCI blobs
// (tests/images/hostile-layout), each refused by the unpacker with the entry named.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "tests/file_util.h"
#include "tests/integration/cell_test_util.h"
#include "tests/integration/images_test_util.h"

namespace cellblock::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using cellblock::testing::slurp;

std::vector<std::string> cached_layers(const std::string& state_dir) {
  std::vector<std::string> out;
  if (!fs::exists(state_dir + "/layers/sha256")) return out;
  for (auto& e : fs::directory_iterator(state_dir + "/layers/sha256")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ImagesRun, OciImageRunsTheMergedTreeWithTheConfigDefaults) {
  std::string state = fresh_dir("oci");
  nlohmann::json r = result_of(cellblock(state, "run --image oci:" + fixture() + "/oci:test"));
  EXPECT_EQ(r["status"], "exited") << r.dump();
  EXPECT_EQ(r["exit_code"], 0) << r.dump();
  EXPECT_EQ(r["stdout"], kMergedTree) << r.dump();
  EXPECT_EQ(cached_layers(state).size(), 5u);
  fs::remove_all(state);
}

TEST(ImagesRun, TheMergedTreeIsTheSameInAUserNamespace) {
  // Whiteouts and the opaque attribute still read right when the cell has its own user namespace.
  std::string state = fresh_dir("userns");
  std::ofstream(state + "/job.json") << nlohmann::json{{"image", "oci:" + fixture() + "/oci:test"}, {"user_namespace", true}}.dump();
  nlohmann::json r = result_of(cellblock(state, "run --job " + state + "/job.json"));
  EXPECT_EQ(r["exit_code"], 0) << r.dump();
  EXPECT_EQ(r["stdout"], kMergedTree) << r.dump();
  fs::remove_all(state);
}

TEST(ImagesRun, TheConfigsUserByNameComesFromTheImagesPasswd) {
  std::string state = fresh_dir("user");
  nlohmann::json r = result_of(cellblock(state, "run --image oci:" + fixture() + "/oci:user"));
  EXPECT_EQ(r["exit_code"], 0) << r.dump();
  EXPECT_EQ(r["stdout"], "65534\n65534\n") << r.dump();
  fs::remove_all(state);
}

TEST(ImagesRun, DockerArchiveGivesTheSameResult) {
  std::string state = fresh_dir("docker");
  nlohmann::json r = result_of(cellblock(state, "run --image docker-archive:" + fixture() + "/image.tar:test/img:1"));
  EXPECT_EQ(r["exit_code"], 0) << r.dump();
  EXPECT_EQ(r["stdout"], kMergedTree) << r.dump();
  // The same layers by diff_id as from the OCI layout: one cache for both.
  Shelled imported = cellblock(state, "image import -q oci:" + fixture() + "/oci:test");
  EXPECT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_THAT(imported.out, HasSubstr("(0 unpacked, 5 cached)"));
  fs::remove_all(state);
}

TEST(ImagesRun, APodServiceWithoutARootfsRunsInTheJobsImage) {
  // /data/b is only in the image's layers: the service serves it from the same merged tree.
  std::string state = fresh_dir("pod");
  nlohmann::json job = {
      {"image", "oci:" + fixture() + "/oci:test"},
      {"command", {"sh", "-c", "wget -q -O- http://127.0.0.1:8090/b"}},
      {"pod", {{"services", {{{"name", "web"}, {"command", {"httpd", "-f", "-p", "8090", "-h", "/data"}},
                              {"ready", {{"tcp", 8090}, {"timeout_ms", 60000}}}}}}}}};
  std::ofstream(state + "/job.json") << job.dump();
  nlohmann::json r = result_of(cellblock(state, "run --job " + state + "/job.json"));
  EXPECT_EQ(r["status"], "exited") << r.dump();
  EXPECT_EQ(r["stdout"], "b\n") << r.dump();
  EXPECT_EQ(r["services"]["web"]["status"], "cancelled") << r.dump();
  fs::remove_all(state);
}

TEST(ImagesRun, TheJobsOwnFieldsOverrideTheConfig) {
  std::string state = fresh_dir("override");
  nlohmann::json r = result_of(cellblock(state, "run --image oci:" + fixture() + "/oci:test --cwd /opq -e GREETING=bye -- "
                                                "sh -c 'echo \"$GREETING $PATH $(pwd)\"; ls'"));
  EXPECT_EQ(r["exit_code"], 0) << r.dump();
  EXPECT_EQ(r["stdout"], "bye /bin /opq\nnew\n") << r.dump();
  fs::remove_all(state);
}

TEST(ImagesRun, BatchJobsNameImagesAndAMissingOneIsAnInvalidLine) {
  std::string state = fresh_dir("batch");
  std::string jobs = state + "/jobs.jsonl";
  std::ofstream(jobs) << nlohmann::json{{"id", "img"}, {"image", "oci:" + fixture() + "/oci:test"}}.dump() << "\n"
                      << nlohmann::json{{"id", "nope"}, {"image", "oci:" + state + "/missing"}}.dump() << "\n"
                      << nlohmann::json{{"id", "plain"}, {"rootfs", kRootfs}, {"command", {"/bin/true"}}}.dump() << "\n";
  Shelled r = cellblock(state, "batch -q " + jobs);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> by_id;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    by_id[j["id"]] = j;
  }
  EXPECT_EQ(by_id["img"]["stdout"], kMergedTree);
  EXPECT_EQ(by_id["nope"]["status"], "invalid_job");
  EXPECT_THAT(by_id["nope"]["error"].get<std::string>(), HasSubstr("image"));
  EXPECT_THAT(by_id["nope"]["error"].get<std::string>(), HasSubstr("/missing"));
  EXPECT_EQ(by_id["plain"]["exit_code"], 0);
  fs::remove_all(state);
}

TEST(ImagesCache, TwentyConcurrentJobsUnpackEachLayerOnce) {
  std::string state = fresh_dir("twenty");
  std::vector<std::thread> threads;
  std::vector<Shelled> results(20);
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      results[i] = shell(std::string(kCellblockBinary) + " --state-dir " + state + " run --image oci:" + fixture() +
                             "/oci:test",
                         state + "/run" + std::to_string(i));
    });
  for (auto& t : threads) t.join();
  for (const Shelled& r : results) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["stdout"], kMergedTree);
  }
  std::map<std::string, int> unpacks;
  std::istringstream log(slurp(state + "/layers/unpacked.log"));
  for (std::string id, pid, time; log >> id >> pid >> time;) ++unpacks[id];
  EXPECT_EQ(unpacks.size(), 5u);
  for (auto& [id, n] : unpacks) EXPECT_EQ(n, 1) << "layer " << id << " unpacked " << n << " times";
  EXPECT_TRUE(fs::is_empty(state + "/layers/tmp"));
  fs::remove_all(state);
}

TEST(ImagesCache, GcRemovesUnusedLayersOnly) {
  std::string state = fresh_dir("gc");
  std::string other = state + "/other";
  ASSERT_EQ(shell(kTools + "/hostile-layout good " + other, state + "/mk").exit_code, 0);
  ASSERT_EQ(cellblock(state, "image import -q oci:" + fixture() + "/oci:test").exit_code, 0);
  ASSERT_EQ(cellblock(state, "image import -q oci:" + other + ":test").exit_code, 0);
  std::vector<std::string> both = cached_layers(state);
  ASSERT_EQ(both.size(), 6u);
  Shelled ls = cellblock(state, "image ls");
  EXPECT_THAT(ls.out, ::testing::StartsWith("NAME"));
  EXPECT_THAT(ls.out, HasSubstr("DIGEST"));
  EXPECT_THAT(ls.out, ::testing::MatchesRegex("(.|\n)*oci:" + other + ":test +sha256:[0-9a-f]{12} +[0-9.]+[BKM] +1\n(.|\n)*"));
  EXPECT_THAT(ls.out, ::testing::MatchesRegex("(.|\n)*oci:" + fixture() + "/oci:test +sha256:[0-9a-f]{12} +[0-9.]+M +5\n(.|\n)*"));

  // Nothing is unused yet: gc keeps every layer.
  EXPECT_EQ(cellblock(state, "image gc").exit_code, 0);
  EXPECT_EQ(cached_layers(state), both);

  ASSERT_EQ(cellblock(state, "image rm oci:" + other + ":test").exit_code, 0);
  Shelled gc = cellblock(state, "image gc");
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_THAT(gc.out, HasSubstr("layer removed: sha256:"));
  EXPECT_EQ(cached_layers(state).size(), 5u);
  // The image that stayed still runs, from its cached layers.
  nlohmann::json r = result_of(cellblock(state, "run --image oci:" + fixture() + "/oci:test"));
  EXPECT_EQ(r["stdout"], kMergedTree);
  fs::remove_all(state);
}

TEST(ImagesCache, GcWithMaxBytesKeepsTheMostRecentlyUsed) {
  std::string state = fresh_dir("gcmax");
  std::string small = state + "/small";
  ASSERT_EQ(shell(kTools + "/hostile-layout good " + small, state + "/mk").exit_code, 0);
  ASSERT_EQ(cellblock(state, "image import -q oci:" + fixture() + "/oci:test").exit_code, 0);
  ASSERT_EQ(cellblock(state, "image import -q oci:" + small + ":test").exit_code, 0);  // the most recent
  Shelled gc = cellblock(state, "image gc --max-bytes 1K");
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_THAT(gc.out, HasSubstr("image removed: oci:" + fixture() + "/oci:test"));
  EXPECT_THAT(gc.out, ::testing::Not(HasSubstr("image removed: oci:" + small)));
  EXPECT_EQ(cached_layers(state).size(), 1u);
  fs::remove_all(state);
}

struct Hostile {
  const char* name;
  const char* entry;      // named in the error
  const char* escape;     // a host path that must not appear
  bool always = true;     // refused by the default policy too, not only by this test's limits
};

class ImagesHostile : public ::testing::TestWithParam<Hostile> {};

TEST_P(ImagesHostile, IsRefusedNamingTheEntryAndTheHostIsUntouched) {
  const Hostile& h = GetParam();
  std::string state = fresh_dir(std::string("hostile-") + h.name);
  std::string layout = state + "/layout";
  Shelled made = shell(kTools + "/hostile-layout " + h.name + " " + layout, state + "/mk");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  Shelled r = cellblock(state, std::string("image import -q --max-layer-bytes 16M --max-layer-entries 1000 ") +
                               (std::string(h.name) == "setuid" ? "--setid refuse " : "") + "oci:" + layout + ":test");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr(std::string("layer entry \"") + h.entry + "\"")) << r.err;
  if (*h.escape) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(h.escape))) << h.escape;
  }
  EXPECT_TRUE(cached_layers(state).empty());
  EXPECT_TRUE(fs::is_empty(state + "/layers/tmp"));
  if (h.always) {
    // A job naming it is an invalid job with the same reason, and nothing runs.
    Shelled job = cellblock(state, "run --image oci:" + layout + ":test");
    EXPECT_EQ(job.exit_code, 2) << job.out;
    EXPECT_THAT(job.err, HasSubstr(std::string("layer entry \"") + h.entry + "\"")) << job.err;
    EXPECT_TRUE(cached_layers(state).empty());
  }
  fs::remove_all(state);
}

INSTANTIATE_TEST_SUITE_P(
    ImagesLayers, ImagesHostile,
    ::testing::Values(Hostile{"traversal", "../../../../escaped-by-traversal", "/escaped-by-traversal"},
                      Hostile{"absolute-escape", "/../escaped-absolute", "/escaped-absolute"},
                      Hostile{"symlink-write", "link/escaped-through-symlink", "/tmp/escaped-through-symlink"},
                      Hostile{"dot-symlink", ".", "/tmp/escaped-dot"},
                      Hostile{"hardlink-escape", "shadow-link", ""},
                      Hostile{"device", "dev-sda", ""},
                      Hostile{"setuid", "suid-shell", "", false},
                      Hostile{"bomb", "zeros", "", false},
                      Hostile{"many-entries", "etc/f998", "", false}),
    [](const auto& info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(ImagesHostileFixups, ASymlinkReplacingAnEntryIsNeverFollowed) {
  // containerd CVE-2021-32760 and libarchive CVE-2021-31566: a mode change (or a deferred
  // fix-up) that followed a symlink planted under the same name changed a host file.
  for (const char* name : {"chmod-through-symlink", "fixup-symlink"}) {
    std::string state = fresh_dir(name);
    struct stat hostname_before {}, etc_before {};
    ::stat("/etc/hostname", &hostname_before);
    ::stat("/etc", &etc_before);
    ASSERT_EQ(shell(kTools + "/hostile-layout " + name + " " + state + "/layout", state + "/mk").exit_code, 0);
    Shelled r = cellblock(state, "image import -q oci:" + state + "/layout:test");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    struct stat hostname_after {}, etc_after {};
    ::stat("/etc/hostname", &hostname_after);
    ::stat("/etc", &etc_after);
    EXPECT_EQ(hostname_after.st_mode, hostname_before.st_mode) << name;
    EXPECT_EQ(etc_after.st_mode, etc_before.st_mode) << name;
    fs::remove_all(state);
  }
}

TEST(ImagesHostileFixups, SetIdBitsAreStrippedByDefault) {
  std::string state = fresh_dir("strip");
  ASSERT_EQ(shell(kTools + "/hostile-layout setuid " + state + "/layout", state + "/mk").exit_code, 0);
  Shelled r = cellblock(state, "image import -q oci:" + state + "/layout:test");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> layers = cached_layers(state);
  ASSERT_EQ(layers.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::lstat((state + "/layers/sha256/" + layers[0] + "/suid-shell").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  fs::remove_all(state);
}

TEST(ImagesDigest, AWrongLayerDigestIsRefused) {
  std::string state = fresh_dir("digest");
  ASSERT_EQ(shell(kTools + "/hostile-layout wrong-digest " + state + "/layout", state + "/mk").exit_code, 0);
  Shelled r = cellblock(state, "image import -q oci:" + state + "/layout:test");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the manifest says sha256:"));
  EXPECT_TRUE(cached_layers(state).empty());
  Shelled job = cellblock(state, "run --image oci:" + state + "/layout:test");
  EXPECT_EQ(job.exit_code, 2);
  EXPECT_THAT(job.err, HasSubstr("invalid job: image: oci:" + state + "/layout:test"));
  fs::remove_all(state);
}

TEST(ImagesDigest, ALayerThatIsNotTheConfigsDiffIdIsRefused) {
  std::string state = fresh_dir("diffid");
  ASSERT_EQ(shell(kTools + "/hostile-layout wrong-diff-id " + state + "/layout", state + "/mk").exit_code, 0);
  Shelled r = cellblock(state, "image import -q oci:" + state + "/layout:test");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not the config's diff_id"));
  EXPECT_TRUE(cached_layers(state).empty());
  EXPECT_TRUE(fs::is_empty(state + "/layers/tmp"));
  fs::remove_all(state);
}

TEST(ImagesDigest, AnUnknownTagNamesTheTagsThereAre) {
  std::string state = fresh_dir("tag");
  Shelled r = cellblock(state, "image import -q oci:" + fixture() + "/oci:nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no image tagged \"nope\" (tags: \"test\", \"user\")"));
  fs::remove_all(state);
}

TEST(ImagesIndex, AnImageIndexPicksLinuxAmd64OrSaysWhatItHas) {
  std::string state = fresh_dir("index");
  ASSERT_EQ(shell(kTools + "/hostile-layout index-amd64 " + state + "/both", state + "/mk").exit_code, 0);
  ASSERT_EQ(shell(kTools + "/hostile-layout index-arm64-only " + state + "/arm", state + "/mk").exit_code, 0);
  nlohmann::json r = result_of(cellblock(state, "run --image oci:" + state + "/both:test -- /bin/x"));
  // The amd64 manifest was chosen (the arm64 one is not even there); the layer has no /bin.
  EXPECT_EQ(r["status"], "setup_error") << r.dump();
  EXPECT_EQ(cached_layers(state).size(), 1u);
  Shelled arm = cellblock(state, "image import -q oci:" + state + "/arm:test");
  EXPECT_EQ(arm.exit_code, 1);
  EXPECT_THAT(arm.err, HasSubstr("no manifest for linux/amd64 (it has linux/arm64)"));
  fs::remove_all(state);
}

TEST(ImagesCli, ImportShowsAProgressLineOnATerminalOnly) {
  std::string state = fresh_dir("progress");
  // script(1) gives the command a terminal; its output is what the terminal received.
  Shelled tty = shell("script -qec '" + std::string(kCellblockBinary) + " --state-dir " + state + " image import oci:" +
                      fixture() + "/oci:test' /dev/null",
                  state + "/tty");
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_THAT(tty.out, HasSubstr("\r\033[K" "oci:" + fixture() + "/oci:test: layer 1/5 sha256:"));
  fs::remove_all(state + "/images");
  fs::remove_all(state + "/layers");
  Shelled file = cellblock(state, "image import oci:" + fixture() + "/oci:test");
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.err, "");
  EXPECT_THAT(file.out, HasSubstr("5 layers (5 unpacked, 0 cached)"));
  fs::remove_all(state);
}

TEST(ImagesCache, ACrashMidUnpackLeavesNothingThatIsUsed) {
  std::string state = fresh_dir("crash");
  ASSERT_EQ(shell(kTools + "/hostile-layout bomb " + state + "/big", state + "/mk").exit_code, 0);
  std::string layout = "oci:" + state + "/big:test";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(kCellblockBinary, kCellblockBinary, "--state-dir", state.c_str(), "image", "import", "-q", layout.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // SIGKILL as soon as the unpack has begun: its 256 MiB file is being written in layers/tmp/.
  bool begun = false;
  for (int i = 0; i < 60'000 && !begun; ++i) {
    if (fs::exists(state + "/layers/tmp") && !fs::is_empty(state + "/layers/tmp")) begun = true;
    else ::usleep(1000);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(begun);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the import ended before it was killed";
  EXPECT_TRUE(cached_layers(state).empty());  // nothing half-unpacked is ever under sha256/
  EXPECT_FALSE(fs::is_empty(state + "/layers/tmp"));
  // The next import clears what the crash left and unpacks the layer whole.
  Shelled again = cellblock(state, "image import -q " + layout);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(cached_layers(state).size(), 1u);
  EXPECT_TRUE(fs::is_empty(state + "/layers/tmp"));
  fs::remove_all(state);
}

TEST(ImagesRun, AZstdLayerWithAHardLinkUnpacksAsOneFileTwice) {
  std::string state = fresh_dir("zstd");
  ASSERT_EQ(shell(kTools + "/hostile-layout zstd " + state + "/layout", state + "/mk").exit_code, 0);
  Shelled r = cellblock(state, "image import -q oci:" + state + "/layout:test");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> layers = cached_layers(state);
  ASSERT_EQ(layers.size(), 1u);
  std::string dir = state + "/layers/sha256/" + layers[0];
  EXPECT_EQ(slurp(dir + "/hello"), "hello\n");
  struct stat a {}, b {};
  ASSERT_EQ(::lstat((dir + "/hello").c_str(), &a), 0);
  ASSERT_EQ(::lstat((dir + "/hello-link").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  fs::remove_all(state);
}


}  // namespace
}  // namespace cellblock::test
