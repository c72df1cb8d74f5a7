// A cmd's private working directory (/w in the cell): a small tmpfs the service mounts on the
// host under <state_dir>/gojudge/work/, so that a job writing without end fills its own few
// MiB and never the host's disk. The client's copyIn files are written into it before the job
// starts; the job gets it bound read-write at /w; its copyOut files are read from it after.
//
// After the job ran, the job controls that tree: it may have left symlinks to host files,
// FIFOs, or files far larger than asked for. Files are read through openat2 under the tmpfs's
// root (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) with O_NOFOLLOW and
// O_NONBLOCK, only regular files, and never more than the cap.
#pragma once

#include <cstdint>
#include <string>

#include "executor/base/unique_fd.h"

namespace cellblock::gojudge {

class WorkDir {
 public:
  // Makes `path` (its parent must exist) and mounts a tmpfs of `size_bytes` on it: nosuid,
  // nodev, mode 0777 (the job's user writes there). Throws SysError.
  WorkDir(std::string path, uint64_t size_bytes);
  ~WorkDir();  // unmounts (detached: nothing can hold it up) and removes the directory
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes a client's file at `relative` (checked by check_relative_path), making the
  // directories on the way. Throws SysError (ENOSPC when the tmpfs is full, EEXIST when "a" and
  // "a/b" are both asked for).
  void write_file(const std::string& relative, const std::string& content);

  struct ReadResult {
    enum Outcome { ok, missing, not_regular, too_large, failed } outcome = failed;
    std::string content;  // when ok
    std::string message;  // otherwise: what happened, for the client
  };
  // Reads a file the job left, at most `max_bytes`.
  ReadResult read_file(const std::string& relative, uint64_t max_bytes) const;

  // Unmounts and removes what a service that died left under `parent` (crash leftovers).
  static void remove_leftovers(const std::string& parent);

 private:
  std::string path_;
  UniqueFd root_;  // the tmpfs's root, opened before any job touched it
};

}  // namespace cellblock::gojudge
