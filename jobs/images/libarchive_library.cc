#include "jobs/images/libarchive_library.h"

#include "executor/base/shared_library.h"

namespace cellblock::images {
namespace {

LibarchiveLibrary load() {
  // The runtime library of Debian's libarchive-dev (package libarchive13), whose headers declare
  // the functions' types.
  const SharedLibrary library("libarchive.so.13", "to read image layers");
  LibarchiveLibrary l{};
  library.bind(l.read_new, "archive_read_new");
  library.bind(l.read_free, "archive_read_free");
  library.bind(l.read_support_format_tar, "archive_read_support_format_tar");
  library.bind(l.read_support_format_raw, "archive_read_support_format_raw");
  library.bind(l.read_support_filter_gzip, "archive_read_support_filter_gzip");
  library.bind(l.read_support_filter_zstd, "archive_read_support_filter_zstd");
  library.bind(l.read_support_filter_none, "archive_read_support_filter_none");
  library.bind(l.read_open, "archive_read_open");
  library.bind(l.read_open_filename, "archive_read_open_filename");
  library.bind(l.read_next_header, "archive_read_next_header");
  library.bind(l.read_data, "archive_read_data");
  library.bind(l.read_data_block, "archive_read_data_block");
  library.bind(l.error_string, "archive_error_string");
  library.bind(l.entry_pathname, "archive_entry_pathname");
  library.bind(l.entry_mtime, "archive_entry_mtime");
  library.bind(l.entry_mtime_nsec, "archive_entry_mtime_nsec");
  library.bind(l.entry_filetype, "archive_entry_filetype");
  library.bind(l.entry_uid, "archive_entry_uid");
  library.bind(l.entry_gid, "archive_entry_gid");
  library.bind(l.entry_perm, "archive_entry_perm");
  library.bind(l.entry_size, "archive_entry_size");
  library.bind(l.entry_size_is_set, "archive_entry_size_is_set");
  library.bind(l.entry_symlink, "archive_entry_symlink");
  library.bind(l.entry_hardlink, "archive_entry_hardlink");
  library.bind(l.entry_rdevmajor, "archive_entry_rdevmajor");
  library.bind(l.entry_rdevminor, "archive_entry_rdevminor");
  return l;
}

}  // namespace

const LibarchiveLibrary& libarchive() {
  // A failed load throws out of the initialiser and is tried again by the next call.
  static const LibarchiveLibrary library = load();
  return library;
}

}  // namespace cellblock::images
