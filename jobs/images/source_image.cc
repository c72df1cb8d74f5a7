#include "jobs/images/source_image.h"

namespace cellblock::images {

SourceImage read_source_image(const ImageRef& ref) {
  return ref.transport == Transport::oci ? read_oci_layout(ref) : read_docker_archive(ref);
}

std::unique_ptr<ByteSource> open_layer(const SourceImage& image, const SourceLayer& layer) {
  return image.ref.transport == Transport::oci ? open_oci_layer(image, layer) : open_docker_layer(image, layer);
}

}  // namespace cellblock::images
