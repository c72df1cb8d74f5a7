#include "jobs/images/image_gc.h"

#include <algorithm>
#include <map>
#include <set>

namespace cellblock::images {

std::vector<std::string> images_over_budget(const std::vector<ImageRecord>& images,
                                            const std::vector<LayerInfo>& layers, uint64_t max_bytes) {
  std::map<std::string, uint64_t> size;
  for (const LayerInfo& l : layers) size[l.diff_id] = l.bytes;
  std::vector<const ImageRecord*> order;
  for (const ImageRecord& r : images) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(),
                   [](const ImageRecord* a, const ImageRecord* b) { return a->last_used_ms > b->last_used_ms; });
  std::set<std::string> kept_layers;
  uint64_t used = 0;
  std::vector<std::string> dropped;
  bool full = false;
  for (const ImageRecord* r : order) {
    uint64_t extra = 0;
    for (const std::string& id : r->layers)
      if (!kept_layers.count(id)) extra += size.count(id) ? size[id] : 0;
    // Once one image does not fit, every older one goes too: "keeps the most recently used".
    if (full || used + extra > max_bytes) {
      full = true;
      dropped.push_back(r->name);
      continue;
    }
    used += extra;
    kept_layers.insert(r->layers.begin(), r->layers.end());
  }
  return dropped;
}

GcReport collect_garbage(ImageStore& store, LayerCache& cache, std::optional<uint64_t> max_bytes) {
  GcReport report;
  std::set<std::string> needed;
  store.update([&](std::vector<ImageRecord>& images) {
    if (max_bytes) {
      report.images_removed = images_over_budget(images, cache.list(), *max_bytes);
      std::erase_if(images, [&](const ImageRecord& r) {
        return std::find(report.images_removed.begin(), report.images_removed.end(), r.name) != report.images_removed.end();
      });
    }
    for (const ImageRecord& r : images) needed.insert(r.layers.begin(), r.layers.end());
    // Layers go while the store is locked, so an import that records a new image waits for us
    // and then unpacks again whatever we removed.
    for (const LayerInfo& layer : cache.list()) {
      if (needed.count(layer.diff_id)) {
        report.bytes_kept += layer.bytes;
      } else if (cache.remove(layer.diff_id)) {
        report.layers_removed.push_back(layer.diff_id);
        report.bytes_freed += layer.bytes;
      } else {
        report.layers_busy.push_back(layer.diff_id);
      }
    }
  });
  return report;
}

}  // namespace cellblock::images
