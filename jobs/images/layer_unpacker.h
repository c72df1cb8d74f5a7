// Unpacks one image layer (a tar, maybe gzip- or zstd-compressed) into an empty directory, for
// layers that may be hostile. libarchive only reads; every entry is made here, relative to a
// directory fd, with mkdirat/openat/symlinkat/linkat/mknodat and no path walk through a symlink
// (docs/images.md, "Safety rules"). The uncompressed stream is hashed on the way: its sha256 is
// the layer's diff_id, which the caller checks against the image config.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "jobs/images/source_image.h"

namespace cellblock::images {

enum class SetIdBits { strip, refuse };

struct UnpackLimits {
  uint64_t max_bytes = 16ull << 30;   // uncompressed bytes per layer (the tar stream)
  uint64_t max_entries = 1'000'000;   // entries per layer
  SetIdBits setid = SetIdBits::strip; // set-user-ID / set-group-ID bits on files
};

// A layer that breaks a safety rule. The message names the entry and the rule.
class LayerRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct UnpackResult {
  std::string diff_id;     // hex sha256 of the uncompressed tar stream
  uint64_t bytes = 0;      // the files' bytes
  uint64_t entries = 0;
};

// `root_fd` is an empty directory only this process writes. `progress` (may be empty) gets the
// uncompressed bytes read so far. Throws LayerRefused, std::invalid_argument (not a tar) or SysError.
UnpackResult unpack_layer(ByteSource& source, int root_fd, const UnpackLimits& limits,
                          const std::function<void(uint64_t)>& progress = {});

// An entry's path in the layer: leading "/" and "./" gone, "." and empty parts dropped, and
// ".." refused (std::invalid_argument). An empty result is the layer's root.
std::string clean_entry_path(const std::string& path);

}  // namespace cellblock::images
