// A job's private working directory (/w in the cell): a small tmpfs mounted on the host under
// the state directory, so that a job writing without end fills its own few MiB and never the
// host's disk. The job's input files (the job format's "files", go-judge's copyIn) are written
// into it before the job starts; the job gets it bound read-write at /w; the files it leaves
// ("collect", copyOut) are read from it after. Shared by the executor (JobSpec::files and
// collect) and jobs/gojudge, which mounts its own per cmd.
//
// After the job ran, the job controls that tree: it may have left symlinks to host files,
// FIFOs, or files far larger than asked for. Files are read through openat2 under the tmpfs's
// root (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) with O_NOFOLLOW and
// O_NONBLOCK, only regular files, and never more than the cap.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "executor/base/unique_fd.h"
#include "executor/result.h"

namespace cellblock {

// Where the working directory is in the cell.
inline constexpr char kCellWorkDir[] = "/w";

class WorkDir {
 public:
  // Makes `path` (its parent must exist) and mounts a tmpfs of `size_bytes` on it: nosuid,
  // nodev, mode 0777 (the job's user writes there). Throws SysError.
  WorkDir(std::string path, uint64_t size_bytes);
  ~WorkDir();  // unmounts (detached: nothing can hold it up) and removes the directory
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes a client's file at `relative` (checked by jobs/format/cell_path.h: check_relative_path), making the
  // directories on the way. Throws SysError (ENOSPC when the tmpfs is full, EEXIST when "a" and
  // "a/b" are both asked for).
  void write_file(const std::string& relative, const std::string& content);

  using ReadResult = FileRead;  // executor/result.h
  // Reads a file the job left, at most `max_bytes`.
  ReadResult read_file(const std::string& relative, uint64_t max_bytes) const;

  // Unmounts and removes what a process that died left under `parent` (crash leftovers):
  // every entry, or those `keep` does not claim.
  static void remove_leftovers(const std::string& parent,
                               const std::function<bool(const std::string& name)>& keep = {});

 private:
  std::string path_;
  UniqueFd root_;  // the tmpfs's root, opened before any job touched it
};

}  // namespace cellblock
