// The name of an image on the host, as a job or `cellblock image` gives it:
//   oci:/path/to/layout[:tag]                 an OCI image layout (umoci, skopeo copy oci:)
//   docker-archive:/path/image.tar[:repo:tag] a `docker save` / `skopeo copy docker-archive:` tarball
// The path ends at the first ':' after the transport, so a path cannot contain ':' (nor can a
// layer path in overlay's options). A relative path is made absolute against the working directory.
#pragma once

#include <string>

namespace cellblock::images {

enum class Transport { oci, docker_archive };

struct ImageRef {
  Transport transport = Transport::oci;
  std::string path;  // absolute
  std::string tag;   // oci: the ref name; docker-archive: "repo:tag"; empty: the only image there
  std::string text() const;  // the canonical form, the image's name in the store
};

// Throws std::invalid_argument naming the text and why.
ImageRef parse_image_ref(const std::string& text);

}  // namespace cellblock::images
