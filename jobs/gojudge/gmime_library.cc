#include "jobs/gojudge/gmime_library.h"

#include "executor/base/shared_library.h"

namespace cellblock::gojudge {
namespace {

GMimeLibrary load() {
  // The runtime library of Debian's libgmime-3.0-dev (package libgmime-3.0-0), whose headers
  // declare the functions' types.
  const SharedLibrary library("libgmime-3.0.so.0", "for multipart uploads");
  GMimeLibrary g{};
  library.bind(g.init, "g_mime_init");
  library.bind(g.stream_mem_new, "g_mime_stream_mem_new");
  library.bind(g.stream_mem_new_with_buffer, "g_mime_stream_mem_new_with_buffer");
  library.bind(g.stream_mem_get_byte_array, "g_mime_stream_mem_get_byte_array");
  library.bind(g.parser_new_with_stream, "g_mime_parser_new_with_stream");
  library.bind(g.parser_construct_part, "g_mime_parser_construct_part");
  library.bind(g.multipart_get_type, "g_mime_multipart_get_type");
  library.bind(g.multipart_get_count, "g_mime_multipart_get_count");
  library.bind(g.multipart_get_part, "g_mime_multipart_get_part");
  library.bind(g.object_get_content_disposition, "g_mime_object_get_content_disposition");
  library.bind(g.content_disposition_get_parameter, "g_mime_content_disposition_get_parameter");
  library.bind(g.part_get_type, "g_mime_part_get_type");
  library.bind(g.part_get_filename, "g_mime_part_get_filename");
  library.bind(g.part_get_content, "g_mime_part_get_content");
  library.bind(g.data_wrapper_write_to_stream, "g_mime_data_wrapper_write_to_stream");
  // A handle's lookups cover the library's own dependencies: libgobject comes with it.
  library.bind(g.type_check_instance_is_a, "g_type_check_instance_is_a");
  library.bind(g.object_unref, "g_object_unref");
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
