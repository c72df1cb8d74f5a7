// `cellblock image import|ls|rm|gc`, and the resolver that `run` and `batch` use to turn a job's
// "image" into its layers (docs/images.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "executor/job_spec.h"
#include "jobs/images/image_sources.h"

namespace cellblock {

struct ImageOptions {
  std::string state_dir;  // set by main from --state-dir
  std::string source;     // import: oci:... or docker-archive:...; rm: the name
  std::optional<std::string> max_bytes;        // gc --max-bytes
  std::optional<std::string> max_layer_bytes;  // import --max-layer-bytes
  std::optional<uint64_t> max_layer_entries;   // import --max-layer-entries
  std::string setid = "strip";                 // import --setid strip|refuse
  bool quiet = false;
  CLI::App* import = nullptr;
  CLI::App* ls = nullptr;
  CLI::App* rm = nullptr;
  CLI::App* gc = nullptr;
};

void add_image_command(CLI::App& app, ImageOptions& options);
int image_command(const ImageOptions& options);

// Resolves a job's image under state_dir: imported once per process (cached across processes)
// and again when its source changed, its layers held while the process lives. Thread-safe.
// Throws FieldError("image", ...). A progress line goes to stderr when it is a terminal and
// `quiet` is false. `sources`: imported_only for jobs that clients send (serve, worker).
std::function<void(JobSpec&)> image_job_resolver(const std::string& state_dir, bool quiet,
                                                 images::ImageSources sources = images::ImageSources::any);

}  // namespace cellblock
