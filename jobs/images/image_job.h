// A job that names an image: the image imported (once; cached after), its layers held for the
// job's life and handed to the executor as overlay lower directories, and the config's defaults
// applied under the job's own fields (docs/images.md, "The job").
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/job_spec.h"
#include "jobs/images/image_import.h"

namespace cellblock::images {

// The config's User ("uid", "uid:gid", "name", "name:group") as numbers. Names are looked up in
// the image's /etc/passwd and /etc/group, which `read_etc("passwd")` returns (none: missing).
// Throws std::invalid_argument naming the user.
Identity parse_image_user(const std::string& user,
                          const std::function<std::optional<std::string>(const std::string&)>& read_etc);

// Fills what the job left open from the config: env under the job's own variables, command
// (Entrypoint + Cmd) when the job has none, cwd (WorkingDir, else "/") when the job's is empty,
// user when the job has none and the config names one. Sets lower_dirs (top layer first).
// Throws std::invalid_argument when the job ends up without a command.
void apply_image_config(JobSpec& job, const ImageConfig& config, const std::optional<Identity>& user,
                        std::vector<std::string> lower_dirs);

// /etc/<file> as the stacked layers show it (top first), each opened with RESOLVE_IN_ROOT inside
// its layer; a whiteout hides it. Returns none when missing. At most 1 MiB.
std::optional<std::string> read_etc_file(const std::vector<std::string>& lower_dirs_top_first, const std::string& file);

class ImageResolver {
 public:
  ImageResolver(const std::string& state_dir, ImportOptions options);
  // Imports job.image (cached) and applies it. Thread-safe; each image is imported once per
  // resolver, and its layers stay held (shared flock) until the resolver goes.
  // Throws LayerRefused, std::invalid_argument or SysError.
  void resolve(JobSpec& job);

 private:
  const ImageRecord& import_once(const std::string& name);
  LayerCache cache_;
  ImageStore store_;
  ImportOptions options_;
  std::mutex mutex_;
  std::map<std::string, ImageRecord> images_;
  std::map<std::string, UniqueFd> holds_;
};

}  // namespace cellblock::images
