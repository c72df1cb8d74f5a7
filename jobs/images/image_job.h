// A job that names an image: the image imported (once; cached after), its layers held for the
// job's life and handed to the executor as overlay lower directories, and the config's defaults
// applied under the job's own fields (docs/images.md, "The job").
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/job_spec.h"
#include "jobs/images/image_import.h"
#include "jobs/images/image_sources.h"

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

// What tells that an image's source changed since it was imported: the layout's index.json (umoci
// and skopeo replace it whole when a tag moves) or the docker archive, by inode, size and mtime.
struct SourceStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const SourceStamp&) const = default;
};
// None when the source cannot be stat()ed (the import that follows says why).
std::optional<SourceStamp> source_stamp(const ImageRef& ref);

class ImageResolver {
 public:
  ImageResolver(const std::string& state_dir, ImportOptions options, ImageSources sources = ImageSources::any);
  // Imports job.image and applies it. Thread-safe. An image is imported once per resolver and
  // looked at again (one stat) on each job after: a changed source is imported again, so a
  // long-lived service runs what a tag names now. Layers stay held (shared flock) until the
  // resolver goes, older versions' too (a job may still run on them).
  // Throws LayerRefused, std::invalid_argument or SysError.
  void resolve(JobSpec& job);

 private:
  struct Imported {
    ImageRecord record;
    std::optional<SourceStamp> stamp;
  };
  const ImageRecord& import_once(const std::string& name);
  bool hold_all(const std::vector<std::string>& layers);  // holds each; false if one is gone
  LayerCache cache_;
  ImageStore store_;
  ImportOptions options_;
  ImageSources sources_;
  std::mutex mutex_;
  std::map<std::string, Imported> images_;
  std::map<std::string, UniqueFd> holds_;
};

}  // namespace cellblock::images
