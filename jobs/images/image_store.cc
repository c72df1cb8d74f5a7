#include "jobs/images/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock::images {
namespace {

using nlohmann::json;

class StoreLock {
 public:
  StoreLock(const std::string& dir, int op) {
    std::string path = dir + "/lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd_) throw_sys("open(" + cellblock::quoted(path) + ")");
    while (::flock(fd_.get(), op) != 0)
      if (errno != EINTR) throw_sys("flock(" + cellblock::quoted(path) + ")");
  }

 private:
  UniqueFd fd_;
};

json to_json(const ImageRecord& r) {
  return {{"name", r.name},   {"manifest_digest", r.manifest_digest}, {"config_digest", r.config_digest},
          {"layers", r.layers}, {"bytes", r.bytes}, {"last_used_ms", r.last_used_ms}, {"config", defaults_to_json(r.defaults)}};
}

ImageRecord from_json(const json& j) {
  ImageRecord r;
  r.name = j.at("name").get<std::string>();
  r.manifest_digest = j.at("manifest_digest").get<std::string>();
  r.config_digest = j.value("config_digest", "");
  r.layers = j.at("layers").get<std::vector<std::string>>();
  r.bytes = j.value("bytes", uint64_t{0});
  r.last_used_ms = j.value("last_used_ms", int64_t{0});
  r.defaults = defaults_from_json(j.value("config", json::object()));
  return r;
}

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ImageStore::ImageStore(const std::string& state_dir) : dir_(state_dir + "/images") {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + cellblock::quoted(state_dir) + ")");
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + cellblock::quoted(dir_) + ")");
}

std::vector<ImageRecord> ImageStore::read() const {
  std::string path = dir_ + "/images.json";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return {};
  json j = json::parse(read_host_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("images") || !j["images"].is_array())
    throw std::runtime_error(path + ": not an image store (expected {\"images\": [...]})");
  std::vector<ImageRecord> out;
  for (const json& r : j["images"]) {
    try {
      out.push_back(from_json(r));
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": a damaged record: " + e.what());
    }
  }
  return out;
}

void ImageStore::write(const std::vector<ImageRecord>& records) const {
  json images = json::array();
  for (const ImageRecord& r : records) images.push_back(to_json(r));
  std::string tmp = dir_ + "/images.json.tmp";
  {
    HostOutputFile out(tmp);
    out.write(json{{"images", images}}.dump(1) + "\n");
    if (::fsync(out.fd()) != 0) throw_sys("fsync(" + cellblock::quoted(tmp) + ")");
  }
  if (::rename(tmp.c_str(), (dir_ + "/images.json").c_str()) != 0) throw_sys("rename(" + cellblock::quoted(tmp) + ")");
}

std::vector<ImageRecord> ImageStore::list() const {
  StoreLock lock(dir_, LOCK_SH);
  return read();
}

std::optional<ImageRecord> ImageStore::find(const std::string& name) const {
  for (ImageRecord& r : list())
    if (r.name == name) return r;
  return std::nullopt;
}

void ImageStore::update(const std::function<void(std::vector<ImageRecord>&)>& change) {
  StoreLock lock(dir_, LOCK_EX);
  std::vector<ImageRecord> records = read();
  change(records);
  write(records);
}

bool ImageStore::write_record(const ImageRecord& record, bool add) {
  bool there = false;
  update([&](std::vector<ImageRecord>& records) {
    for (ImageRecord& r : records)
      if (r.name == record.name) {
        r = record;
        there = true;
        return;
      }
    if (add) records.push_back(record);
  });
  return there;
}

void ImageStore::put(const ImageRecord& record) { write_record(record, /*add=*/true); }

bool ImageStore::replace(const ImageRecord& record) { return write_record(record, /*add=*/false); }

void ImageStore::touch(const std::string& name) {
  update([&](std::vector<ImageRecord>& records) {
    for (ImageRecord& r : records)
      if (r.name == name) r.last_used_ms = now_ms();
  });
}

bool ImageStore::remove(const std::string& name) {
  bool removed = false;
  update([&](std::vector<ImageRecord>& records) {
    auto n = std::erase_if(records, [&](const ImageRecord& r) { return r.name == name; });
    removed = n > 0;
  });
  return removed;
}

}  // namespace cellblock::images
