#include "jobs/gojudge/multipart_upload.h"

#include <gmime/gmime.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "jobs/format/json_reader.h"

namespace cellblock::gojudge {
namespace {

// GObject references, released however the parse ends.
struct Unref {
  void operator()(void* object) const { g_object_unref(object); }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;

}  // namespace

UploadedFile read_multipart_file(const std::string& content_type, const std::string& body) {
  static std::once_flag initialized;
  std::call_once(initialized, [] { g_mime_init(); });
  if (content_type.find("multipart/form-data") == std::string::npos)
    throw FieldError("Content-Type", json_quoted(content_type) +
                                         " is not multipart/form-data: upload with a form field named \"file\" "
                                         "(curl -F file=@PATH)");
  // GMime parses a MIME entity: the HTTP body is one once its Content-Type header is put back.
  const std::string entity = "Content-Type: " + content_type + "\r\n\r\n" + body;
  Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(entity.data(), entity.size()));
  Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  Ref<GMimeObject> root(g_mime_parser_construct_part(parser.get(), nullptr));
  if (!root || !GMIME_IS_MULTIPART(root.get()))
    throw FieldError("Content-Type", "the body is not a multipart/form-data entity (is the boundary right?)");
  GMimeMultipart* multipart = GMIME_MULTIPART(root.get());
  for (int i = 0; i < g_mime_multipart_get_count(multipart); ++i) {
    GMimeObject* part = g_mime_multipart_get_part(multipart, i);
    GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(part);
    const char* field = disposition ? g_mime_content_disposition_get_parameter(disposition, "name") : nullptr;
    if (!field || std::strcmp(field, "file") != 0) continue;
    if (!GMIME_IS_PART(part)) throw FieldError("file", "the form field \"file\" is not a single file");
    const char* filename = g_mime_part_get_filename(GMIME_PART(part));
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(part));
    Ref<GMimeStream> out(g_mime_stream_mem_new());
    if (content && g_mime_data_wrapper_write_to_stream(content, out.get()) < 0)
      throw FieldError("file", "the form field \"file\" could not be decoded");
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    UploadedFile file;
    file.name = filename && *filename ? filename : "file";
    if (bytes) file.content.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
    return file;
  }
  throw FieldError("file", "no form field named \"file\" (curl -F file=@PATH)");
}

}  // namespace cellblock::gojudge
