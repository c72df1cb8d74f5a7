// An OCI image layout (image-spec's image-layout.md): oci-layout, index.json, blobs/sha256/<hex>.
// index.json names manifests by digest and tag (the annotation org.opencontainers.image.ref.name);
// an entry may itself be an index (or a Docker manifest list) whose manifests carry platforms.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "executor/base/sys_error.h"
#include "jobs/images/openat2_util.h"
#include "jobs/images/sha256.h"
#include "jobs/images/source_image.h"

namespace cellblock::images {
namespace {

using nlohmann::json;

constexpr size_t kMaxJsonBytes = 4 << 20;  // a manifest or config; more is not an image, it is an attack
constexpr const char* kRefName = "org.opencontainers.image.ref.name";

bool is_index(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

bool is_layer_type(const std::string& t) {
  for (const char* ok : {"application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
                         "application/vnd.oci.image.layer.v1.tar+zstd",
                         "application/vnd.docker.image.rootfs.diff.tar.gzip",
                         "application/vnd.oci.image.layer.nondistributable.v1.tar",
                         "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"})
    if (t == ok) return true;
  return false;
}

struct Layout {
  std::string path;
  UniqueFd dir;
};

json parse(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument(what + ": not a JSON object");
  return j;
}

std::string string_field(const json& j, const char* key, const std::string& what) {
  if (!j.contains(key) || !j[key].is_string()) throw std::invalid_argument(what + ": no string \"" + key + "\"");
  return j[key].get<std::string>();
}

// A blob named by a descriptor, read whole and checked against its digest (and size).
json read_blob_json(const Layout& l, const json& descriptor, const std::string& what) {
  std::string hex = parse_digest(string_field(descriptor, "digest", what), what + " digest");
  std::string file = "blobs/sha256/" + hex;
  std::string data = read_beneath(l.dir.get(), file, kMaxJsonBytes, l.path + "/" + file);
  if (sha256_hex(data) != hex)
    throw std::invalid_argument(what + " " + l.path + "/" + file + ": content does not match its digest sha256:" + hex);
  if (descriptor.contains("size") && descriptor["size"].is_number_unsigned() && descriptor["size"].get<uint64_t>() != data.size())
    throw std::invalid_argument(what + " " + l.path + "/" + file + ": " + std::to_string(data.size()) +
                                " bytes, the descriptor says " + std::to_string(descriptor["size"].get<uint64_t>()));
  return parse(data, what + " " + l.path + "/" + file);
}

std::string platform_of(const json& d) {
  if (!d.contains("platform") || !d["platform"].is_object()) return "unknown";
  const json& p = d["platform"];
  return p.value("os", "?") + "/" + p.value("architecture", "?");
}

bool fits(const json& d) { return platform_of(d) == std::string(kOs) + "/" + kArchitecture; }

// Among descriptors for the same image, the one for linux/amd64, or a clear error.
const json& pick_platform(const std::vector<const json*>& candidates, const std::string& what) {
  if (candidates.size() == 1 && !(*candidates[0]).contains("platform")) return *candidates[0];
  std::string seen;
  for (const json* d : candidates) {
    if (fits(*d)) return *d;
    seen += (seen.empty() ? "" : ", ") + platform_of(*d);
  }
  throw std::invalid_argument(what + ": no manifest for " + kOs + "/" + kArchitecture + " (it has " + seen + ")");
}

// Follows the index (and nested indexes) down to one image manifest's descriptor.
json resolve_manifest(const Layout& l, const ImageRef& ref) {
  json index = parse(read_beneath(l.dir.get(), "index.json", kMaxJsonBytes, l.path + "/index.json"), l.path + "/index.json");
  if (!index.contains("manifests") || !index["manifests"].is_array())
    throw std::invalid_argument(l.path + "/index.json: no \"manifests\" array");
  std::vector<const json*> candidates;
  std::string tags;
  for (const json& d : index["manifests"]) {
    if (!d.is_object()) continue;
    std::string name;
    if (d.contains("annotations") && d["annotations"].is_object() && d["annotations"].contains(kRefName) &&
        d["annotations"][kRefName].is_string())
      name = d["annotations"][kRefName].get<std::string>();
    if (!name.empty() && tags.find("\"" + name + "\"") == std::string::npos) tags += (tags.empty() ? "\"" : ", \"") + name + "\"";
    if (ref.tag.empty() || name == ref.tag) candidates.push_back(&d);
  }
  if (candidates.empty())
    throw std::invalid_argument(l.path + ": no image tagged " + cellblock::quoted(ref.tag) + " (tags: " + (tags.empty() ? "none" : tags) + ")");
  if (ref.tag.empty() && candidates.size() > 1 && !std::all_of(candidates.begin(), candidates.end(), [](const json* d) {
        return d->contains("platform");
      }))
    throw std::invalid_argument(l.path + ": holds several images; name one with oci:" + l.path + ":TAG (tags: " + tags + ")");
  json chosen = pick_platform(candidates, l.path + "/index.json");
  for (int depth = 0; depth < 4; ++depth) {
    std::string media_type = chosen.value("mediaType", "");
    if (!is_index(media_type)) return chosen;
    json nested = read_blob_json(l, chosen, "image index");
    if (!nested.contains("manifests") || !nested["manifests"].is_array())
      throw std::invalid_argument("image index " + chosen.value("digest", "") + ": no \"manifests\" array");
    std::vector<const json*> inner;
    for (const json& d : nested["manifests"])
      if (d.is_object()) inner.push_back(&d);
    if (inner.empty()) throw std::invalid_argument("image index " + chosen.value("digest", "") + ": empty");
    chosen = pick_platform(inner, "image index " + chosen.value("digest", ""));
  }
  throw std::invalid_argument(l.path + ": image indexes nested more than 4 deep");
}

}  // namespace

SourceImage read_oci_layout(const ImageRef& ref) {
  Layout l{ref.path, UniqueFd(::open(ref.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))};
  if (!l.dir) throw_sys("open(" + cellblock::quoted(ref.path) + ") as an OCI image layout");
  json layout = parse(read_beneath(l.dir.get(), "oci-layout", kMaxJsonBytes, ref.path + "/oci-layout"), ref.path + "/oci-layout");
  if (layout.value("imageLayoutVersion", "") != "1.0.0")
    throw std::invalid_argument(ref.path + "/oci-layout: imageLayoutVersion is not \"1.0.0\"");

  SourceImage image;
  image.ref = ref;
  json descriptor = resolve_manifest(l, ref);
  image.manifest_digest = string_field(descriptor, "digest", "manifest descriptor");
  json manifest = read_blob_json(l, descriptor, "image manifest");
  if (!manifest.contains("config") || !manifest["config"].is_object())
    throw std::invalid_argument("image manifest " + image.manifest_digest + ": no \"config\"");
  image.config_digest = string_field(manifest["config"], "digest", "image manifest config");
  image.config = parse_image_config(read_blob_json(l, manifest["config"], "image config"));
  if (!image.config.os.empty() && (image.config.os != kOs || image.config.architecture != kArchitecture))
    throw std::invalid_argument(ref.text() + ": the image is for " + image.config.os + "/" + image.config.architecture +
                                ", not " + kOs + "/" + kArchitecture);
  if (!manifest.contains("layers") || !manifest["layers"].is_array())
    throw std::invalid_argument("image manifest " + image.manifest_digest + ": no \"layers\" array");
  const json& layers = manifest["layers"];
  if (layers.size() != image.config.diff_ids.size())
    throw std::invalid_argument("image manifest " + image.manifest_digest + ": " + std::to_string(layers.size()) +
                                " layers but the config has " + std::to_string(image.config.diff_ids.size()) + " diff_ids");
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string what = "image manifest layers[" + std::to_string(i) + "]";
    if (!layers[i].is_object()) throw std::invalid_argument(what + ": not an object");
    SourceLayer layer;
    layer.media_type = string_field(layers[i], "mediaType", what);
    if (!is_layer_type(layer.media_type))
      throw std::invalid_argument(what + ": media type " + cellblock::quoted(layer.media_type) + " is not a tar layer");
    layer.blob_hex = parse_digest(string_field(layers[i], "digest", what), what + " digest");
    if (layers[i].contains("size") && layers[i]["size"].is_number_unsigned()) layer.size = layers[i]["size"].get<uint64_t>();
    layer.diff_id = image.config.diff_ids[i];
    layer.location = "blobs/sha256/" + layer.blob_hex;
    image.layers.push_back(std::move(layer));
  }
  return image;
}

namespace {

class FdSource : public ByteSource {
 public:
  explicit FdSource(UniqueFd fd, std::string what) : fd_(std::move(fd)), what_(std::move(what)) {}
  ssize_t read(const void** buf) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf_, sizeof buf_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read(" + cellblock::quoted(what_) + ")");
      *buf = buf_;
      return n;
    }
  }

 private:
  UniqueFd fd_;
  std::string what_;
  char buf_[1 << 16];
};

}  // namespace

std::unique_ptr<ByteSource> open_oci_layer(const SourceImage& image, const SourceLayer& layer) {
  UniqueFd dir(::open(image.ref.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw_sys("open(" + cellblock::quoted(image.ref.path) + ")");
  std::string what = image.ref.path + "/" + layer.location;
  UniqueFd fd = open_in(dir.get(), layer.location, O_RDONLY | O_NOCTTY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, what);
  // The whole blob is hashed before a byte of it reaches the tar reader: a layer that does not
  // match the manifest is never even partly unpacked.
  std::string got = sha256_fd(fd.get(), what);
  if (got != layer.blob_hex)
    throw std::invalid_argument("layer " + what + ": content is sha256:" + got + ", the manifest says sha256:" + layer.blob_hex);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_sys("lseek(" + cellblock::quoted(what) + ")");
  return std::make_unique<FdSource>(std::move(fd), what);
}

}  // namespace cellblock::images
