// Importing an image: read and verify its source, unpack each layer into the cache once, record
// it in the store. Jobs import too (cheap once cached: the index, manifest and config are read
// and checked again, the layers are found in the cache).
#pragma once

#include <functional>
#include <string>

#include "jobs/images/image_ref.h"
#include "jobs/images/image_store.h"
#include "jobs/images/layer_cache.h"

namespace cellblock::images {

struct ImportOptions {
  UnpackLimits limits;
  // A human progress line ("layer 2/5 sha256:1234abcd…: 12 MiB"), for a terminal; may be empty.
  std::function<void(const std::string&)> progress;
  // Write the record only over one the store has: an imported-only resolver's import must not
  // bring back an image `cellblock image rm` removed meanwhile (image_sources.h).
  bool replace_only = false;
};

struct ImportResult {
  ImageRecord record;
  size_t layers_unpacked = 0;  // by this call; the rest were in the cache
};

// Throws LayerRefused, std::invalid_argument or SysError with the reason.
ImportResult import_image(const ImageRef& ref, LayerCache& cache, ImageStore& store, const ImportOptions& options);

}  // namespace cellblock::images
