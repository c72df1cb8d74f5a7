// The images cellblock knows, by name: <state_dir>/images/images.json, rewritten whole (write,
// rename) under an flock on <state_dir>/images/lock, so concurrent commands and jobs never see a
// half-written store. The layers themselves live in the layer cache (layer_cache.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jobs/images/image_config.h"

namespace cellblock::images {

struct ImageRecord {
  std::string name;             // the canonical reference, ImageRef::text()
  std::string manifest_digest;  // "sha256:..."
  std::string config_digest;
  std::vector<std::string> layers;  // diff_ids (hex), bottom first
  uint64_t bytes = 0;               // the sum of its layers' bytes
  int64_t last_used_ms = 0;         // Unix time of the last import or job
  ImageConfig defaults;             // the job defaults from its config (no diff_ids)
};

class ImageStore {
 public:
  explicit ImageStore(const std::string& state_dir);

  std::vector<ImageRecord> list() const;
  std::optional<ImageRecord> find(const std::string& name) const;
  void put(const ImageRecord& record);       // replaces the record of the same name, or adds it
  bool replace(const ImageRecord& record);   // replaces it only if there is one; false if not
  void touch(const std::string& name);       // last_used_ms = now
  bool remove(const std::string& name);
  // Runs `change` on all records under the lock and writes the result back.
  void update(const std::function<void(std::vector<ImageRecord>&)>& change);

 private:
  std::vector<ImageRecord> read() const;
  bool write_record(const ImageRecord& record, bool add);  // put and replace: whether it was there
  void write(const std::vector<ImageRecord>& records) const;
  std::string dir_;
};

int64_t now_ms();

}  // namespace cellblock::images
