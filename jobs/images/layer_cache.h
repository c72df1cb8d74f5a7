// The content-addressed layer cache under the state directory, shared by every image and job:
//   layers/sha256/<diff_id>/   one unpacked layer, an overlay lower directory, never written again
//   layers/meta/<diff_id>.json its size and entries
//   layers/locks/<diff_id>.unpack flock: exclusive to unpack or remove
//   layers/locks/<diff_id>.use    flock: shared while a job uses the layer, exclusive to remove it
//                                 (two files, so a job that holds a layer never delays an unpacker)
//   layers/tmp/<diff_id>/      a layer being unpacked; renamed into sha256/ only when complete
//   layers/unpacked.log        one line per unpack: diff_id, pid, time
// Two threads or processes that need the same new layer unpack it once: the second waits on the
// lock and then finds it. A crash mid-unpack leaves only tmp/, which the next unpack clears.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "jobs/images/layer_unpacker.h"

namespace cellblock::images {

struct LayerInfo {
  std::string diff_id;
  uint64_t bytes = 0;
  uint64_t entries = 0;
};

class LayerCache {
 public:
  explicit LayerCache(const std::string& state_dir);  // makes <state_dir>/layers/... (0700)

  std::string dir_of(const std::string& diff_id) const;
  bool has(const std::string& diff_id) const;
  std::vector<LayerInfo> list() const;
  std::optional<LayerInfo> info(const std::string& diff_id) const;

  // The layer's directory, unpacked from open() if it is not there yet. The stream's sha256
  // must equal diff_id (LayerRefused otherwise; nothing is kept). `unpacked` says whether this
  // call did the work.
  LayerInfo ensure(const std::string& diff_id, const std::function<std::unique_ptr<ByteSource>()>& open,
                   const UnpackLimits& limits, const std::function<void(uint64_t)>& progress, bool* unpacked = nullptr);

  // A shared lock on the layer for as long as the fd lives: remove() leaves it alone.
  UniqueFd hold(const std::string& diff_id) const;
  // Removes the layer unless someone holds it; returns whether it was removed.
  bool remove(const std::string& diff_id);

 private:
  UniqueFd lock_file(const std::string& diff_id, const char* kind) const;
  std::string root_;
};

}  // namespace cellblock::images
