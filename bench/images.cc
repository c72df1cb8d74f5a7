// Jobs from images (docs/images.md): how long importing a 5-layer image takes (the umoci fixture
// of tests/images/make-image: the busybox rootfs and four small layers), and what running from
// its cached layers costs per job against the plain busybox rootfs, interleaved in one run so
// that both see the same machine. Target: at most 10% more per job once cached.
//   bench/images [--runs N] [--imports N] [--json FILE]
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "executor/executor.h"
#include "jobs/format/job_json.h"
#include "jobs/format/policy_json.h"
#include "jobs/images/image_import.h"
#include "jobs/images/image_job.h"

namespace fs = std::filesystem;
using namespace cellblock;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/images: import time of a 5-layer image, per-job launch from it against a plain rootfs"};
  int runs = 200, imports = 5;
  std::string json_path;
  app.add_option("--runs", runs, "Jobs of each kind, interleaved")->capture_default_str();
  app.add_option("--imports", imports, "Imports into a fresh cache (median reported)")->capture_default_str();
  app.add_option("--json", json_path, "Write the figures here");
  CLI11_PARSE(app, argc, argv);

  fs::path work = fs::temp_directory_path() / ("cellblock-bench-images-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::string make = std::string(CELLBLOCK_BENCH_IMAGE_TOOLS) + "/make-image " + CELLBLOCK_BENCH_ROOTFS + " " +
                     (work / "img").string() + " >/dev/null 2>&1";
  if (std::system(make.c_str()) != 0) {
    std::cerr << "bench/images: tests/images/make-image failed (umoci, skopeo installed?)\n";
    return 1;
  }
  images::ImageRef ref = images::parse_image_ref("oci:" + (work / "img" / "oci").string() + ":test");

  // 1. Import into a fresh cache: read and verify every blob, unpack 5 layers, record the image.
  std::vector<double> import_ms;
  size_t layers = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < imports; ++i) {
    std::string state = (work / ("state" + std::to_string(i))).string();
    images::LayerCache cache(state);
    images::ImageStore store(state);
    auto t = Clock::now();
    images::ImportResult r = images::import_image(ref, cache, store, {});
    import_ms.push_back(ms_since(t));
    layers = r.record.layers.size();
    bytes = r.record.bytes;
  }
  // The same again with the layers cached: what every job pays to resolve its image.
  std::vector<double> cached_ms;
  {
    std::string state = (work / "state0").string();
    images::LayerCache cache(state);
    images::ImageStore store(state);
    for (int i = 0; i < std::max(imports, 20); ++i) {
      auto t = Clock::now();
      images::import_image(ref, cache, store, {});
      cached_ms.push_back(ms_since(t));
    }
  }

  // 2. Launch: /bin/true in the plain rootfs and in the image, interleaved.
  Executor executor;
  PolicyRegistry policies;
  images::ImageResolver resolver((work / "state0").string(), {});
  auto job = [&](bool image) {
    JobSpec j;
    if (image) {
      j.image = ref.text();
      j.cwd = "";
      j.command = {"/bin/true"};
      resolver.resolve(j);
    } else {
      j.rootfs = CELLBLOCK_BENCH_ROOTFS;
      j.command = {"/bin/true"};
      j.env["PATH"] = "/bin";
    }
    prepare_job(j, policies);
    return j;
  };
  JobSpec plain = job(false), from_image = job(true);
  std::vector<double> plain_ms, image_ms;
  for (int i = 0; i < runs + 5; ++i) {
    for (bool image : {i % 2 == 0, i % 2 != 0}) {
      auto t = Clock::now();
      Result r = executor.run(image ? from_image : plain);
      double ms = ms_since(t);
      if (r.status != Status::exited || r.exit_code != 0) {
        std::cerr << "bench/images: a job failed: " << r.error.value_or("") << "\n";
        return 1;
      }
      if (i >= 5) (image ? image_ms : plain_ms).push_back(ms);  // the first few warm the caches
    }
  }
  fs::remove_all(work);

  double p50_plain = quantile(plain_ms, 0.5), p50_image = quantile(image_ms, 0.5);
  nlohmann::json out = {
      {"image", {{"layers", layers}, {"bytes", bytes}}},
      {"import_ms", {{"runs", imports}, {"median", quantile(import_ms, 0.5)}, {"max", quantile(import_ms, 1.0)}}},
      {"import_cached_ms", {{"median", quantile(cached_ms, 0.5)}}},
      {"launch_ms",
       {{"runs", runs},
        {"plain_rootfs", {{"p50", p50_plain}, {"p90", quantile(plain_ms, 0.9)}}},
        {"image_5_layers", {{"p50", p50_image}, {"p90", quantile(image_ms, 0.9)}}},
        {"image_over_plain_p50", p50_image / p50_plain}}},
      {"target", "image launch p50 <= 1.10 x plain rootfs p50, once cached"},
      {"met", p50_image <= 1.10 * p50_plain}};
  std::cout << out.dump(2) << std::endl;
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
