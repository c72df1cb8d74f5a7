#include "jobs/images/image_import.h"

#include <stdexcept>

#include "executor/base/sys_error.h"
#include "jobs/images/source_image.h"

namespace cellblock::images {
namespace {

std::string mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + "." + std::to_string(((bytes & ((1 << 20) - 1)) * 10) >> 20) + " MiB";
}

}  // namespace

ImportResult import_image(const ImageRef& ref, LayerCache& cache, ImageStore& store, const ImportOptions& options) {
  SourceImage image = read_source_image(ref);
  ImportResult result;
  ImageRecord& record = result.record;
  record.name = ref.text();
  record.manifest_digest = image.manifest_digest;
  record.config_digest = image.config_digest;
  record.defaults = image.config;
  record.defaults.diff_ids.clear();
  for (size_t i = 0; i < image.layers.size(); ++i) {
    const SourceLayer& layer = image.layers[i];
    std::string label = "layer " + std::to_string(i + 1) + "/" + std::to_string(image.layers.size()) + " sha256:" +
                        layer.diff_id.substr(0, 12);
    std::function<void(uint64_t)> progress;
    if (options.progress) progress = [&](uint64_t bytes) { options.progress(ref.text() + ": " + label + ": " + mib(bytes)); };
    bool unpacked = false;
    LayerInfo info = cache.ensure(
        layer.diff_id, [&] { return open_layer(image, layer); }, options.limits, progress, &unpacked);
    if (unpacked) ++result.layers_unpacked;
    record.layers.push_back(layer.diff_id);
    record.bytes += info.bytes;
  }
  record.last_used_ms = now_ms();
  if (!options.replace_only) store.put(record);
  else if (!store.replace(record))
    throw std::invalid_argument(cellblock::quoted(record.name) + " was removed (cellblock image rm) while it was read");
  return result;
}

}  // namespace cellblock::images
