#include "jobs/format/cell_path.h"

#include <algorithm>
#include <string_view>

#include "executor/work_dir.h"
#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

constexpr size_t kMaxPathBytes = 4096;

}  // namespace

void check_relative_path(const std::string& path, const std::string& field) {
  if (path.empty()) throw FieldError(field, "the path must not be empty");
  if (path.size() > kMaxPathBytes) throw FieldError(field, "the path is longer than " + std::to_string(kMaxPathBytes) + " bytes");
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw FieldError(field, json_quoted(path) + ": control characters are not allowed in a path");
  if (path[0] == '/')
    throw FieldError(field, json_quoted(path) + " is absolute: name files relative to the working directory /w");
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view part = std::string_view(path).substr(start, slash - start);
    if (part.empty() || part == "." || part == "..")
      throw FieldError(field, json_quoted(path) + " has an empty, \".\" or \"..\" component: only plain relative paths inside the working directory");
    start = slash + 1;
  }
}

std::string relative_to_work_dir(const std::string& path, const std::string& field) {
  const std::string prefix = std::string(kCellWorkDir) + "/";
  // Files in and out live only in the job's private working directory: a tmpfs the host can
  // read under its own root without following anything the job planted (work_dir.h).
  if (!path.starts_with(prefix))
    throw FieldError(field, json_quoted(path) + " is not under " + kCellWorkDir +
                                "/: files in and out live in the job's working directory " + kCellWorkDir);
  const std::string relative = path.substr(prefix.size());
  // Checked as a whole, so that the message quotes the path the client wrote.
  if (relative.starts_with("/"))
    throw FieldError(field, json_quoted(path) + " has an empty component: only plain paths inside " + kCellWorkDir);
  check_relative_path(relative, field);
  return relative;
}

}  // namespace cellblock
