#include "jobs/gojudge/gmime_library.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace cellblock::gojudge {
namespace {

// The runtime library of Debian's libgmime-3.0-dev (package libgmime-3.0-0), the one the headers
// above come from.
constexpr const char* kSoname = "libgmime-3.0.so.0";

template <typename F>
void bind(void* library, F& function, const char* name) {
  function = reinterpret_cast<F>(::dlsym(library, name));
  if (!function) throw std::runtime_error(std::string(kSoname) + ": no symbol " + name);
}

GMimeLibrary load() {
  // Never unloaded: GLib's type system cannot be torn down.
  void* library = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!library) {
    const char* why = ::dlerror();
    throw std::runtime_error(std::string("cannot load ") + kSoname + " for multipart uploads: " + (why ? why : "?"));
  }
  GMimeLibrary g{};
  bind(library, g.init, "g_mime_init");
  bind(library, g.stream_mem_new, "g_mime_stream_mem_new");
  bind(library, g.stream_mem_new_with_buffer, "g_mime_stream_mem_new_with_buffer");
  bind(library, g.stream_mem_get_byte_array, "g_mime_stream_mem_get_byte_array");
  bind(library, g.parser_new_with_stream, "g_mime_parser_new_with_stream");
  bind(library, g.parser_construct_part, "g_mime_parser_construct_part");
  bind(library, g.multipart_get_type, "g_mime_multipart_get_type");
  bind(library, g.multipart_get_count, "g_mime_multipart_get_count");
  bind(library, g.multipart_get_part, "g_mime_multipart_get_part");
  bind(library, g.object_get_content_disposition, "g_mime_object_get_content_disposition");
  bind(library, g.content_disposition_get_parameter, "g_mime_content_disposition_get_parameter");
  bind(library, g.part_get_type, "g_mime_part_get_type");
  bind(library, g.part_get_filename, "g_mime_part_get_filename");
  bind(library, g.part_get_content, "g_mime_part_get_content");
  bind(library, g.data_wrapper_write_to_stream, "g_mime_data_wrapper_write_to_stream");
  // A handle's lookups cover the library's own dependencies: libgobject comes with it.
  bind(library, g.type_check_instance_is_a, "g_type_check_instance_is_a");
  bind(library, g.object_unref, "g_object_unref");
  g.init();
  return g;
}

}  // namespace

const GMimeLibrary& gmime_library() {
  // A failed load throws out of the initialiser and is tried again by the next call.
  static const GMimeLibrary library = load();
  return library;
}

}  // namespace cellblock::gojudge
