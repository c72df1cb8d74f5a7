// GMime, loaded when the first multipart upload arrives rather than when the process starts.
// Only go-judge's POST /file parses multipart bodies, yet linking GMime made every cellblock
// process load it and its stack (gobject, gio, gmodule, gpgme, idn2, libmount, ...) at start:
// about 1.5 ms of dynamic loading per process (bench/results/latest-one-shot.md), which a
// one-shot `cellblock run` paid for nothing. The functions are GMime's own, found with dlsym.
#pragma once

#include <gmime/gmime.h>

namespace cellblock::gojudge {

struct GMimeLibrary {
  decltype(&::g_mime_init) init;
  decltype(&::g_mime_stream_mem_new) stream_mem_new;
  decltype(&::g_mime_stream_mem_new_with_buffer) stream_mem_new_with_buffer;
  decltype(&::g_mime_stream_mem_get_byte_array) stream_mem_get_byte_array;
  decltype(&::g_mime_parser_new_with_stream) parser_new_with_stream;
  decltype(&::g_mime_parser_construct_part) parser_construct_part;
  decltype(&::g_mime_multipart_get_type) multipart_get_type;
  decltype(&::g_mime_multipart_get_count) multipart_get_count;
  decltype(&::g_mime_multipart_get_part) multipart_get_part;
  decltype(&::g_mime_object_get_content_disposition) object_get_content_disposition;
  decltype(&::g_mime_content_disposition_get_parameter) content_disposition_get_parameter;
  decltype(&::g_mime_part_get_type) part_get_type;
  decltype(&::g_mime_part_get_filename) part_get_filename;
  decltype(&::g_mime_part_get_content) part_get_content;
  decltype(&::g_mime_data_wrapper_write_to_stream) data_wrapper_write_to_stream;
  decltype(&::g_type_check_instance_is_a) type_check_instance_is_a;  // GObject's, GMime's dependency
  decltype(&::g_object_unref) object_unref;

  // Whether `object` is an instance of `type` (G_TYPE_CHECK_INSTANCE_TYPE without the link).
  bool is_a(const void* object, GType type) const {
    return object && type_check_instance_is_a(static_cast<GTypeInstance*>(const_cast<void*>(object)), type);
  }
};

// Loaded and initialised (g_mime_init) once per process, on the first call; thread-safe. Throws
// std::runtime_error naming the library or the symbol that could not be found.
const GMimeLibrary& gmime_library();

}  // namespace cellblock::gojudge
