// libarchive, loaded when the first image layer or docker archive is read rather than when the
// process starts. Only image import reads archives, yet linking libarchive made every cellblock
// process load it and its stack (libxml2, ICU, lzma, zstd, lz4, bzip2, nettle, acl) at start:
// about 1 ms of dynamic loading per process (bench/results/latest-one-shot.md), which a plain
// `cellblock run` of a rootfs paid for nothing. The functions are libarchive's own, by dlsym.
#pragma once

#include <archive.h>
#include <archive_entry.h>

namespace cellblock::images {

struct LibarchiveLibrary {
  decltype(&::archive_read_new) read_new;
  decltype(&::archive_read_free) read_free;
  decltype(&::archive_read_support_format_tar) read_support_format_tar;
  decltype(&::archive_read_support_format_raw) read_support_format_raw;
  decltype(&::archive_read_support_filter_gzip) read_support_filter_gzip;
  decltype(&::archive_read_support_filter_zstd) read_support_filter_zstd;
  decltype(&::archive_read_support_filter_none) read_support_filter_none;
  decltype(&::archive_read_open) read_open;
  decltype(&::archive_read_open_filename) read_open_filename;
  decltype(&::archive_read_next_header) read_next_header;
  decltype(&::archive_read_data) read_data;
  decltype(&::archive_read_data_block) read_data_block;
  decltype(&::archive_error_string) error_string;
  decltype(&::archive_entry_pathname) entry_pathname;
  decltype(&::archive_entry_mtime) entry_mtime;
  decltype(&::archive_entry_mtime_nsec) entry_mtime_nsec;
  decltype(&::archive_entry_filetype) entry_filetype;
  decltype(&::archive_entry_uid) entry_uid;
  decltype(&::archive_entry_gid) entry_gid;
  decltype(&::archive_entry_perm) entry_perm;
  decltype(&::archive_entry_size) entry_size;
  decltype(&::archive_entry_size_is_set) entry_size_is_set;
  decltype(&::archive_entry_symlink) entry_symlink;
  decltype(&::archive_entry_hardlink) entry_hardlink;
  decltype(&::archive_entry_rdevmajor) entry_rdevmajor;
  decltype(&::archive_entry_rdevminor) entry_rdevminor;
};

// Loaded once per process, on the first call; thread-safe. Throws std::runtime_error naming the
// library or the symbol that could not be found.
const LibarchiveLibrary& libarchive();

}  // namespace cellblock::images
