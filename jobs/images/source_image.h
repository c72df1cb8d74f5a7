// An image as its source on the host describes it, before anything is unpacked: the verified
// manifest and config, and where each layer's bytes are. Two sources: an OCI image layout
// (oci_layout.cc) and a docker-archive tarball (docker_archive.cc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jobs/images/image_config.h"
#include "jobs/images/image_ref.h"

namespace cellblock::images {

// A stream of bytes: read() points `buf` at the next bytes and returns how many, 0 at the end.
// Throws on errors.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual ssize_t read(const void** buf) = 0;
};

struct SourceLayer {
  std::string blob_hex;  // the manifest's digest of the (compressed) blob; empty in a docker archive
  std::string diff_id;   // hex: the config's digest of the uncompressed tar
  std::string media_type;
  uint64_t size = 0;     // the blob's size as the manifest says (0: unknown)
  std::string location;  // OCI: blobs/sha256/<hex> in the layout; docker-archive: the member's name
};

struct SourceImage {
  ImageRef ref;
  std::string manifest_digest;  // "sha256:<hex>"; a docker archive: the config's digest (the image id)
  std::string config_digest;
  ImageConfig config;
  std::vector<SourceLayer> layers;  // bottom first
};

// Reads and verifies the index, manifest and config (every blob against its digest). A manifest
// list or image index picks linux/amd64, or says which platforms it has. Throws
// std::invalid_argument or SysError with the path and the reason.
SourceImage read_source_image(const ImageRef& ref);
// The layer's bytes as stored (maybe compressed). For an OCI layout the blob's own digest is
// checked first, in a full pass, before any of its bytes are used.
std::unique_ptr<ByteSource> open_layer(const SourceImage& image, const SourceLayer& layer);

// Per transport (oci_layout.cc, docker_archive.cc).
SourceImage read_oci_layout(const ImageRef& ref);
std::unique_ptr<ByteSource> open_oci_layer(const SourceImage& image, const SourceLayer& layer);
SourceImage read_docker_archive(const ImageRef& ref);
std::unique_ptr<ByteSource> open_docker_layer(const SourceImage& image, const SourceLayer& layer);

// The platform cellblock runs: linux/amd64.
inline constexpr const char* kOs = "linux";
inline constexpr const char* kArchitecture = "amd64";

}  // namespace cellblock::images
