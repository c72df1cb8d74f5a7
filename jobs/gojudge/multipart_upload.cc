#include "jobs/gojudge/multipart_upload.h"

#include <cstring>
#include <memory>

#include "jobs/format/json_reader.h"
#include "jobs/gojudge/gmime_library.h"

namespace cellblock::gojudge {
namespace {

// GObject references, released however the parse ends.
struct Unref {
  void operator()(void* object) const { gmime_library().object_unref(object); }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;

}  // namespace

UploadedFile read_multipart_file(const std::string& content_type, const std::string& body) {
  if (content_type.find("multipart/form-data") == std::string::npos)
    throw FieldError("Content-Type", json_quoted(content_type) +
                                         " is not multipart/form-data: upload with a form field named \"file\" "
                                         "(curl -F file=@PATH)");
  // GMime parses a MIME entity: the HTTP body is one once its Content-Type header is put back.
  const std::string entity = "Content-Type: " + content_type + "\r\n\r\n" + body;
  const GMimeLibrary& g = gmime_library();
  Ref<GMimeStream> stream(g.stream_mem_new_with_buffer(entity.data(), entity.size()));
  Ref<GMimeParser> parser(g.parser_new_with_stream(stream.get()));
  Ref<GMimeObject> root(g.parser_construct_part(parser.get(), nullptr));
  // The type checks GMIME_IS_MULTIPART and GMIME_IS_PART make, through the loaded library; the
  // casts after them are then what GMIME_MULTIPART and GMIME_PART would return.
  if (!root || !g.is_a(root.get(), g.multipart_get_type()))
    throw FieldError("Content-Type", "the body is not a multipart/form-data entity (is the boundary right?)");
  GMimeMultipart* multipart = reinterpret_cast<GMimeMultipart*>(root.get());
  for (int i = 0; i < g.multipart_get_count(multipart); ++i) {
    GMimeObject* part = g.multipart_get_part(multipart, i);
    GMimeContentDisposition* disposition = g.object_get_content_disposition(part);
    const char* field = disposition ? g.content_disposition_get_parameter(disposition, "name") : nullptr;
    if (!field || std::strcmp(field, "file") != 0) continue;
    if (!g.is_a(part, g.part_get_type())) throw FieldError("file", "the form field \"file\" is not a single file");
    GMimePart* file_part = reinterpret_cast<GMimePart*>(part);
    const char* filename = g.part_get_filename(file_part);
    GMimeDataWrapper* content = g.part_get_content(file_part);
    Ref<GMimeStream> out(g.stream_mem_new());  // a GMimeStreamMem
    if (content && g.data_wrapper_write_to_stream(content, out.get()) < 0)
      throw FieldError("file", "the form field \"file\" could not be decoded");
    GByteArray* bytes = g.stream_mem_get_byte_array(reinterpret_cast<GMimeStreamMem*>(out.get()));
    UploadedFile file;
    file.name = filename && *filename ? filename : "file";
    if (bytes) file.content.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
    return file;
  }
  throw FieldError("file", "no form field named \"file\" (curl -F file=@PATH)");
}

}  // namespace cellblock::gojudge
