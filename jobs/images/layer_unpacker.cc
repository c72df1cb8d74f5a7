#include "jobs/images/layer_unpacker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "executor/base/sys_error.h"
#include "jobs/images/libarchive_library.h"
#include "jobs/images/openat2_util.h"
#include "jobs/images/remove_tree.h"
#include "jobs/images/sha256.h"

namespace cellblock::images {
namespace {

// libarchive's last error, which may be NULL when a callback failed.
std::string error_text(archive* a) {
  const char* e = libarchive().error_string(a);
  return e ? e : "read error";
}

constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr const char* kOpaqueMarker = ".wh..wh..opq";
// Never through a symlink, never out of the layer, never through /proc's magic links.
constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

struct ArchiveFree {
  void operator()(archive* a) const { libarchive().read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// The stored bytes, decompressed by libarchive's "raw" format (gzip, zstd or none), hashed and
// counted as the tar reader pulls them.
struct Stream {
  ByteSource& source;
  ArchivePtr raw;
  Sha256 hash;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
  std::function<void(uint64_t)> progress;
  uint64_t last_progress = 0;
  std::vector<char> buf = std::vector<char>(1 << 16);
  bool padded = false;
  std::string error;  // an exception inside a libarchive callback, carried out as text
};

la_ssize_t source_read(archive*, void* self, const void** buf) {
  auto* s = static_cast<Stream*>(self);
  try {
    return s->source.read(buf);
  } catch (const std::exception& e) {
    s->error = e.what();
    return -1;
  }
}

la_ssize_t tar_read(archive*, void* self, const void** buf) {
  auto* s = static_cast<Stream*>(self);
  la_ssize_t n = libarchive().read_data(s->raw.get(), s->buf.data(), s->buf.size());
  if (n < 0) {
    if (s->error.empty()) s->error = std::string("decompressing the layer: ") + error_text(s->raw.get());
    return -1;
  }
  if (n == 0 && !s->padded) {
    // umoci writes layers that end right after the last file's bytes, without the padding and
    // the two zero blocks a tar ends with; Go's reader takes them, libarchive needs the blocks.
    // The zeros are ours: neither hashed into the diff_id nor counted.
    static const char zeros[2048] = {};
    s->padded = true;
    *buf = zeros;
    return sizeof zeros;
  }
  s->hash.update(s->buf.data(), static_cast<size_t>(n));
  s->bytes += static_cast<uint64_t>(n);
  if (s->bytes > s->max_bytes) {
    s->error = "the layer unpacks to more than " + std::to_string(s->max_bytes) +
               " bytes (the limit; a decompression bomb?)";
    return -1;
  }
  if (s->progress && s->bytes - s->last_progress >= (4u << 20)) {
    s->last_progress = s->bytes;
    s->progress(s->bytes);
  }
  *buf = s->buf.data();
  return n;
}

[[noreturn]] void refuse(const std::string& entry, const std::string& why) {
  throw LayerRefused("layer entry " + cellblock::quoted(entry) + ": " + why);
}

std::vector<std::string> split(const std::string& clean) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < clean.size()) {
    size_t end = clean.find('/', i);
    if (end == std::string::npos) end = clean.size();
    parts.push_back(clean.substr(i, end - i));
    i = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? "/" : "") + parts[i];
  return s;
}

class Unpacker {
 public:
  Unpacker(int root, const UnpackLimits& limits) : root_(root), limits_(limits) {}

  void entry(archive* a, archive_entry* e) {
    const char* raw_name = libarchive().entry_pathname(e);
    name_ = raw_name ? raw_name : "";
    if (++result.entries > limits_.max_entries)
      refuse(name_, "more than " + std::to_string(limits_.max_entries) + " entries in one layer (the limit)");
    std::string clean;
    try {
      clean = clean_entry_path(name_);
    } catch (const std::invalid_argument& err) {
      refuse(name_, err.what());
    }
    std::vector<std::string> parts = split(clean);
    mode_t type = libarchive().entry_filetype(e);
    const char* hardlink = libarchive().entry_hardlink(e);
    if (parts.empty()) {
      // The layer's own root: a directory entry for it changes nothing; anything else would
      // replace the root (umoci CVE-2021-29136: a symlink named "." became the root).
      if (type == AE_IFDIR && !hardlink) return;
      refuse(name_, "replaces the layer's root directory");
    }
    const std::string leaf = parts.back();
    UniqueFd parent = parent_dir(parts);

    if (leaf == kOpaqueMarker) {
      // Overlay's form of "hide everything below from the lower layers".
      UniqueFd dir = open_in(parent.get(), ".", O_RDONLY | O_DIRECTORY, kResolve, name_);
      if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
        throw_sys("fsetxattr(" + cellblock::quoted(join(parts, parts.size() - 1)) + ", trusted.overlay.opaque)");
      return;
    }
    if (leaf.rfind(kWhiteoutPrefix, 0) == 0) {
      std::string target = leaf.substr(std::strlen(kWhiteoutPrefix));
      if (target.empty() || target == "." || target == "..") refuse(name_, "a whiteout of nothing");
      // Overlay's whiteout: a 0/0 character device hides the name in the layers below.
      clear(parent.get(), target, false);
      if (::mknodat(parent.get(), target.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0)
        throw_sys("mknodat(" + cellblock::quoted(name_) + ", whiteout)");
      return;
    }

    if (hardlink) {
      link_to(parent.get(), leaf, hardlink);
      return;
    }
    mode_t mode = libarchive().entry_perm(e) & 07777;
    uid_t uid = static_cast<uid_t>(libarchive().entry_uid(e));
    gid_t gid = static_cast<gid_t>(libarchive().entry_gid(e));
    switch (type) {
      case AE_IFDIR: {
        struct stat st;
        bool exists = ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && !S_ISDIR(st.st_mode)) clear(parent.get(), leaf, false), exists = false;
        if (!exists && ::mkdirat(parent.get(), leaf.c_str(), 0700) != 0) throw_sys("mkdirat(" + cellblock::quoted(name_) + ")");
        UniqueFd dir = open_in(parent.get(), leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kResolve, name_);
        if (::fchown(dir.get(), uid, gid) != 0) throw_sys("fchown(" + cellblock::quoted(name_) + ")");
        if (::fchmod(dir.get(), mode) != 0) throw_sys("fchmod(" + cellblock::quoted(name_) + ")");
        return;
      }
      case AE_IFREG: {
        mode = setid_checked(mode);
        clear(parent.get(), leaf, false);
        // O_EXCL|O_NOFOLLOW: the name was just cleared, so a symlink planted there is never written
        // through (containerd CVE-2021-32760; libarchive CVE-2021-31566 followed one on fix-up).
        int fd = ::openat(parent.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) throw_sys("openat(" + cellblock::quoted(name_) + ", O_CREAT|O_EXCL)");
        UniqueFd file(fd);
        write_data(a, file.get());
        if (::fchown(file.get(), uid, gid) != 0) throw_sys("fchown(" + cellblock::quoted(name_) + ")");
        if (::fchmod(file.get(), mode) != 0) throw_sys("fchmod(" + cellblock::quoted(name_) + ")");  // after chown, which clears set-ID bits
        struct timespec times[2] = {{libarchive().entry_mtime(e), libarchive().entry_mtime_nsec(e)},
                                    {libarchive().entry_mtime(e), libarchive().entry_mtime_nsec(e)}};
        ::futimens(file.get(), times);
        return;
      }
      case AE_IFLNK: {
        const char* target = libarchive().entry_symlink(e);
        clear(parent.get(), leaf, false);
        // The target is only text here: it is resolved later inside the cell, whose root is the
        // overlay, so even an absolute target stays in the image.
        if (::symlinkat(target ? target : "", parent.get(), leaf.c_str()) != 0) throw_sys("symlinkat(" + cellblock::quoted(name_) + ")");
        if (::fchownat(parent.get(), leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("fchownat(" + cellblock::quoted(name_) + ")");
        return;
      }
      case AE_IFIFO: {
        clear(parent.get(), leaf, false);
        if (::mknodat(parent.get(), leaf.c_str(), S_IFIFO | 0600, 0) != 0) throw_sys("mknodat(" + cellblock::quoted(name_) + ", fifo)");
        if (::fchownat(parent.get(), leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys("fchownat(" + cellblock::quoted(name_) + ")");
        if (::fchmodat(parent.get(), leaf.c_str(), mode & 0777, 0) != 0) throw_sys("fchmodat(" + cellblock::quoted(name_) + ")");
        return;
      }
      case AE_IFCHR:
      case AE_IFBLK:
        refuse(name_, "a device node (" + std::to_string(libarchive().entry_rdevmajor(e)) + ":" +
                          std::to_string(libarchive().entry_rdevminor(e)) + "); an image layer may not make devices");
      case AE_IFSOCK:
        return;  // a socket file is meaningless without its process
      default:
        refuse(name_, "an entry of unknown type");
    }
  }

  UnpackResult result;

 private:
  mode_t setid_checked(mode_t mode) {
    if (!(mode & (S_ISUID | S_ISGID))) return mode;
    if (limits_.setid == SetIdBits::refuse)
      refuse(name_, std::string("a set-") + ((mode & S_ISUID) ? "user" : "group") + "-ID file (refused by the unpack policy)");
    return mode & ~static_cast<mode_t>(S_ISUID | S_ISGID);
  }

  // The entry's parent directory, made if missing; a parent that is a symlink is refused,
  // whatever it points at (moby CVE-2018-15664 raced exactly such a walk).
  UniqueFd parent_dir(const std::vector<std::string>& parts) {
    int dup = ::fcntl(root_, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw_sys("fcntl(F_DUPFD_CLOEXEC)");
    UniqueFd cur(dup);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      int fd = openat2_fd(cur.get(), parts[i], O_PATH | O_DIRECTORY, kResolve);
      if (fd < 0 && errno == ENOENT) {
        if (::mkdirat(cur.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST)
          throw_sys("mkdirat(" + cellblock::quoted(join(parts, i + 1)) + ")");
        fd = openat2_fd(cur.get(), parts[i], O_PATH | O_DIRECTORY, kResolve);
      }
      if (fd < 0 && errno == ELOOP)
        refuse(name_, "its parent " + cellblock::quoted(join(parts, i + 1)) + " is a symlink; writing through a symlink is refused");
      if (fd < 0 && errno == ENOTDIR) refuse(name_, "its parent " + cellblock::quoted(join(parts, i + 1)) + " is not a directory");
      if (fd < 0) throw_sys("openat2(" + cellblock::quoted(join(parts, i + 1)) + ")");
      cur.reset(fd);
    }
    // O_PATH fds cannot take fsetxattr or mknodat... but *at calls accept them as dirfd.
    return cur;
  }

  // A later entry replaces an earlier one of the same name (tar semantics); directories merge.
  void clear(int parent, const std::string& leaf, bool keep_dir) {
    struct stat st;
    if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (!keep_dir) remove_tree_at(parent, leaf);
    } else if (::unlinkat(parent, leaf.c_str(), 0) != 0) {
      throw_sys("unlinkat(" + cellblock::quoted(name_) + ")");
    }
  }

  // A hard link must name a file this layer already made: never a path outside it.
  void link_to(int parent, const std::string& leaf, const char* target_name) {
    std::string clean;
    try {
      clean = clean_entry_path(target_name);
    } catch (const std::invalid_argument& err) {
      refuse(name_, std::string("hard link to ") + cellblock::quoted(target_name) + ": " + err.what());
    }
    std::vector<std::string> parts = split(clean);
    if (parts.empty()) refuse(name_, "hard link to the layer's root");
    std::string dir = join(parts, parts.size() - 1);
    int fd = openat2_fd(root_, dir.empty() ? "." : dir, O_PATH | O_DIRECTORY, kResolve);
    UniqueFd tdir(fd);
    struct stat st;
    if (fd < 0 || ::fstatat(fd, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      refuse(name_, "hard link to " + cellblock::quoted(target_name) + ", which is not in this layer");
    if (S_ISDIR(st.st_mode)) refuse(name_, "hard link to the directory " + cellblock::quoted(target_name));
    clear(parent, leaf, false);
    // flags 0: linkat never follows a symlink at the source.
    if (::linkat(fd, parts.back().c_str(), parent, leaf.c_str(), 0) != 0) throw_sys("linkat(" + cellblock::quoted(name_) + ")");
  }

  void write_data(archive* a, int fd) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    off_t end = 0;
    for (;;) {
      int r = libarchive().read_data_block(a, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) throw std::invalid_argument("layer entry " + cellblock::quoted(name_) + ": " + error_text(a));
      result.bytes += size;
      const char* p = static_cast<const char*>(buf);
      off_t at = offset;
      while (size > 0) {
        ssize_t n = ::pwrite(fd, p, size, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("write(" + cellblock::quoted(name_) + ")");
        p += n, at += n, size -= static_cast<size_t>(n);
      }
      if (at > end) end = at;
    }
    if (::ftruncate(fd, std::max<off_t>(end, libarchive().entry_size_is_set(entry_) ? libarchive().entry_size(entry_) : end)) != 0)
      throw_sys("ftruncate(" + cellblock::quoted(name_) + ")");
  }

 public:
  archive_entry* entry_ = nullptr;

 private:
  int root_;
  const UnpackLimits& limits_;
  std::string name_;
};

}  // namespace

std::string clean_entry_path(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(i, end - i);
    i = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") throw std::invalid_argument("a path with \"..\" would leave the layer");
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

UnpackResult unpack_layer(ByteSource& source, int root_fd, const UnpackLimits& limits,
                          const std::function<void(uint64_t)>& progress) {
  Stream s{source, ArchivePtr(libarchive().read_new())};
  s.max_bytes = limits.max_bytes;
  s.progress = progress;
  // Built-in decompressors only: support_filter_all would also run external programs.
  libarchive().read_support_filter_gzip(s.raw.get());
  libarchive().read_support_filter_zstd(s.raw.get());
  libarchive().read_support_format_raw(s.raw.get());
  if (libarchive().read_open(s.raw.get(), &s, nullptr, source_read, nullptr) != ARCHIVE_OK)
    throw std::invalid_argument("layer: " + (s.error.empty() ? (error_text(s.raw.get())) : s.error));
  archive_entry* raw_entry;
  if (libarchive().read_next_header(s.raw.get(), &raw_entry) != ARCHIVE_OK)
    throw std::invalid_argument("layer: " + (s.error.empty() ? (error_text(s.raw.get())) : s.error));

  ArchivePtr tar(libarchive().read_new());
  libarchive().read_support_format_tar(tar.get());
  if (libarchive().read_open(tar.get(), &s, nullptr, tar_read, nullptr) != ARCHIVE_OK)
    throw std::invalid_argument("layer: not a tar: " + (s.error.empty() ? (error_text(tar.get())) : s.error));
  Unpacker unpacker(root_fd, limits);
  for (;;) {
    archive_entry* e;
    int r = libarchive().read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!s.error.empty()) throw LayerRefused(s.error);
      throw std::invalid_argument(std::string("layer: ") + error_text(tar.get()));
    }
    unpacker.entry_ = e;
    try {
      unpacker.entry(tar.get(), e);
    } catch (const std::invalid_argument&) {
      if (!s.error.empty()) refuse(libarchive().entry_pathname(e) ? libarchive().entry_pathname(e) : "", s.error);
      throw;
    }
    if (unpacker.result.bytes > limits.max_bytes)
      throw LayerRefused("the layer unpacks to more than " + std::to_string(limits.max_bytes) + " bytes (the limit)");
  }
  // The diff_id covers the whole uncompressed stream, the tar's end blocks and padding too.
  const void* rest;
  while (tar_read(nullptr, &s, &rest) > 0) {
  }
  if (!s.error.empty()) throw LayerRefused(s.error);
  UnpackResult result = unpacker.result;
  result.diff_id = s.hash.hex();
  if (progress) progress(s.bytes);
  return result;
}

}  // namespace cellblock::images
