// `cellblock image gc`: forget the least recently used images until the rest fit in max_bytes,
// then remove every cached layer that no remaining image names. A layer a running job holds
// (LayerCache::hold) is left for the next gc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/images/image_store.h"
#include "jobs/images/layer_cache.h"

namespace cellblock::images {

struct GcReport {
  std::vector<std::string> images_removed;
  std::vector<std::string> layers_removed;
  std::vector<std::string> layers_busy;  // unused by any image but held by a job
  uint64_t bytes_freed = 0;
  uint64_t bytes_kept = 0;
};

GcReport collect_garbage(ImageStore& store, LayerCache& cache, std::optional<uint64_t> max_bytes);

// Which images to keep: the most recently used first, while the layers they need (shared layers
// counted once) fit in max_bytes. Pure, for tests. Returns the names to drop.
std::vector<std::string> images_over_budget(const std::vector<ImageRecord>& images,
                                            const std::vector<LayerInfo>& layers, uint64_t max_bytes);

}  // namespace cellblock::images
