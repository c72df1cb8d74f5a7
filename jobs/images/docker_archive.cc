// A docker-archive tarball (`docker save`, `skopeo copy ... docker-archive:`): manifest.json lists
// images as {Config, RepoTags, Layers}, each a member of the tar. There are no blob digests: the
// config's sha256 is the image id, and every layer is checked against the config's diff_ids
// after it is read.

#include <stdexcept>

#include "executor/base/sys_error.h"
#include "jobs/images/libarchive_library.h"
#include "jobs/images/sha256.h"
#include "jobs/images/source_image.h"

namespace cellblock::images {
namespace {

// libarchive's last error, which may be NULL when a callback failed.
std::string error_text(archive* a) {
  const char* e = libarchive().error_string(a);
  return e ? e : "read error";
}

using nlohmann::json;

constexpr size_t kMaxJsonBytes = 4 << 20;

struct ArchiveCloser {
  void operator()(archive* a) const { libarchive().read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

std::string member_name(const char* name) {
  std::string s = name ? name : "";
  while (s.rfind("./", 0) == 0) s.erase(0, 2);
  return s;
}

// The outer tar opened and advanced to `member`; throws when it is not there.
ArchivePtr open_at_member(const std::string& path, const std::string& member) {
  ArchivePtr a(libarchive().read_new());
  libarchive().read_support_format_tar(a.get());
  libarchive().read_support_filter_none(a.get());
  if (libarchive().read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::invalid_argument(path + ": " + error_text(a.get()));
  archive_entry* entry;
  for (;;) {
    int r = libarchive().read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw std::invalid_argument(path + ": " + error_text(a.get()));
    if (member_name(libarchive().entry_pathname(entry)) == member && libarchive().entry_filetype(entry) == AE_IFREG) return a;
  }
  throw std::invalid_argument(path + ": no member " + cellblock::quoted(member));
}

std::string read_member(const std::string& path, const std::string& member) {
  ArchivePtr a = open_at_member(path, member);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = libarchive().read_data(a.get(), buf, sizeof buf);
    if (n < 0) throw std::invalid_argument(path + " member " + member + ": " + error_text(a.get()));
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxJsonBytes) throw std::invalid_argument(path + " member " + member + ": too large for JSON");
  }
  return data;
}

// skopeo and docker store "test/img:1" as "docker.io/test/img:1" and "busybox:1" as
// "docker.io/library/busybox:1"; a user names them either way.
bool same_tag(const std::string& stored, const std::string& wanted) {
  return stored == wanted || stored == "docker.io/" + wanted || stored == "docker.io/library/" + wanted;
}

json parse(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw std::invalid_argument(what + ": not JSON");
  return j;
}

class MemberSource : public ByteSource {
 public:
  MemberSource(ArchivePtr a, std::string what) : a_(std::move(a)), what_(std::move(what)) {}
  ssize_t read(const void** buf) override {
    size_t size = 0;
    la_int64_t offset = 0;
    int r = libarchive().read_data_block(a_.get(), buf, &size, &offset);
    if (r == ARCHIVE_EOF) return 0;
    if (r < ARCHIVE_WARN) throw std::invalid_argument(what_ + ": " + error_text(a_.get()));
    // A sparse member would have holes to fill; layers are never sparse, so refuse rather than guess.
    if (offset != position_) throw std::invalid_argument(what_ + ": a sparse member cannot be a layer");
    position_ += static_cast<la_int64_t>(size);
    return static_cast<ssize_t>(size);
  }

 private:
  ArchivePtr a_;
  std::string what_;
  la_int64_t position_ = 0;
};

}  // namespace

SourceImage read_docker_archive(const ImageRef& ref) {
  json manifest = parse(read_member(ref.path, "manifest.json"), ref.path + " manifest.json");
  if (!manifest.is_array() || manifest.empty())
    throw std::invalid_argument(ref.path + " manifest.json: expected a non-empty array of images");
  const json* chosen = nullptr;
  std::string tags;
  for (const json& image : manifest) {
    if (!image.is_object()) continue;
    if (image.contains("RepoTags") && image["RepoTags"].is_array())
      for (const json& t : image["RepoTags"])
        if (t.is_string()) {
          tags += (tags.empty() ? "\"" : ", \"") + t.get<std::string>() + "\"";
          if (same_tag(t.get<std::string>(), ref.tag)) chosen = &image;
        }
  }
  if (ref.tag.empty()) {
    if (manifest.size() > 1)
      throw std::invalid_argument(ref.path + ": holds several images; name one with docker-archive:" + ref.path +
                                  ":REPO:TAG (tags: " + tags + ")");
    chosen = &manifest[0];
  }
  if (!chosen || !chosen->is_object())
    throw std::invalid_argument(ref.path + ": no image tagged " + cellblock::quoted(ref.tag) + " (tags: " + (tags.empty() ? "none" : tags) + ")");
  if (!chosen->contains("Config") || !(*chosen)["Config"].is_string())
    throw std::invalid_argument(ref.path + " manifest.json: no \"Config\"");
  std::string config_member = member_name((*chosen)["Config"].get<std::string>().c_str());
  std::string config_text = read_member(ref.path, config_member);

  SourceImage image;
  image.ref = ref;
  image.config_digest = "sha256:" + sha256_hex(config_text);
  image.manifest_digest = image.config_digest;
  image.config = parse_image_config(parse(config_text, ref.path + " " + config_member));
  if (!image.config.os.empty() && (image.config.os != kOs || image.config.architecture != kArchitecture))
    throw std::invalid_argument(ref.text() + ": the image is for " + image.config.os + "/" + image.config.architecture +
                                ", not " + kOs + "/" + kArchitecture);
  if (!chosen->contains("Layers") || !(*chosen)["Layers"].is_array())
    throw std::invalid_argument(ref.path + " manifest.json: no \"Layers\" array");
  const json& layers = (*chosen)["Layers"];
  if (layers.size() != image.config.diff_ids.size())
    throw std::invalid_argument(ref.path + " manifest.json: " + std::to_string(layers.size()) + " layers but the config has " +
                                std::to_string(image.config.diff_ids.size()) + " diff_ids");
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].is_string()) throw std::invalid_argument(ref.path + " manifest.json Layers[" + std::to_string(i) + "]: not a string");
    SourceLayer layer;
    layer.diff_id = image.config.diff_ids[i];
    layer.media_type = "docker-archive member";
    layer.location = member_name(layers[i].get<std::string>().c_str());
    image.layers.push_back(std::move(layer));
  }
  return image;
}

std::unique_ptr<ByteSource> open_docker_layer(const SourceImage& image, const SourceLayer& layer) {
  return std::make_unique<MemberSource>(open_at_member(image.ref.path, layer.location),
                                        image.ref.path + " member " + layer.location);
}

}  // namespace cellblock::images
