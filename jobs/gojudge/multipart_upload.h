// The body of go-judge's POST /file: multipart/form-data with the file in the part named
// "file" (`curl -F file=@a.out`), parsed by GMime, never by hand.
#pragma once

#include <string>

namespace cellblock::gojudge {

struct UploadedFile {
  std::string name;     // the part's filename, or "file" when it has none
  std::string content;  // the bytes as sent
};

// `content_type`: the request's Content-Type header (with its boundary). Throws FieldError
// naming "Content-Type" or "file" and why.
UploadedFile read_multipart_file(const std::string& content_type, const std::string& body);

}  // namespace cellblock::gojudge
