#include "jobs/images/image_ref.h"

#include <filesystem>
#include <stdexcept>

#include "executor/base/sys_error.h"

namespace cellblock::images {

std::string ImageRef::text() const {
  std::string s = (transport == Transport::oci ? "oci:" : "docker-archive:") + path;
  return tag.empty() ? s : s + ":" + tag;
}

ImageRef parse_image_ref(const std::string& text) {
  auto bad = [&](const std::string& why) { return std::invalid_argument(cellblock::quoted(text) + ": " + why); };
  ImageRef ref;
  std::string rest;
  if (text.rfind("oci:", 0) == 0) {
    ref.transport = Transport::oci;
    rest = text.substr(4);
  } else if (text.rfind("docker-archive:", 0) == 0) {
    ref.transport = Transport::docker_archive;
    rest = text.substr(15);
  } else {
    throw bad("expected oci:/path/to/layout[:tag] or docker-archive:/path/image.tar[:repo:tag]");
  }
  size_t colon = rest.find(':');
  ref.path = rest.substr(0, colon);
  if (colon != std::string::npos) {
    ref.tag = rest.substr(colon + 1);
    if (ref.tag.empty()) throw bad("the tag after ':' is empty");
  }
  if (ref.path.empty()) throw bad("no path");
  for (char c : ref.path + ref.tag)
    if (c == '\0' || c == '\n') throw bad("contains a NUL or newline");
  if (ref.path[0] != '/') ref.path = (std::filesystem::current_path() / ref.path).lexically_normal().string();
  else ref.path = std::filesystem::path(ref.path).lexically_normal().string();
  if (ref.path.size() > 1 && ref.path.back() == '/') ref.path.pop_back();
  if (ref.transport == Transport::docker_archive && !ref.tag.empty() && ref.tag.find(':') == std::string::npos)
    throw bad("a docker-archive image is named repo:tag");
  return ref;
}

}  // namespace cellblock::images
