#include "jobs/service/write_ahead_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "executor/base/dir_files.h"
#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/format/json_reader.h"
#include "jobs/format/result_json.h"

namespace cellblock::service {
namespace {

bool is_segment(const std::string& name) {
  return name.size() == 20 && name.compare(16, 4, ".log") == 0 &&
         name.find_first_not_of("0123456789abcdef") == 16;
}

}  // namespace

WriteAheadLog::WriteAheadLog(const std::string& dir, int fs_fd, size_t segment_bytes)
    : dir_(dir), fs_fd_(fs_fd), segment_bytes_(segment_bytes), dir_fd_(open_or_make_dir(dir)) {
  for (const std::string& name : names_in(dir_fd_.get()))
    if (is_segment(name)) next_seq_ = std::max<uint64_t>(next_seq_, std::stoull(name.substr(0, 16), nullptr, 16) + 1);
}

WriteAheadLog::Contents WriteAheadLog::read() const {
  Contents out;
  for (const std::string& name : names_in(dir_fd_.get())) {
    if (!is_segment(name)) continue;
    std::string text;
    try {
      text = read_file_at(dir_fd_.get(), name);
    } catch (const std::exception& e) {
      out.problems.push_back(dir_ + "/" + name + ": " + e.what());
      continue;
    }
    text.resize(std::strlen(text.c_str()));  // the zeros after the last record
    size_t from = 0;
    while (from < text.size()) {
      size_t end = text.find('\n', from);
      const bool last = end == std::string::npos;
      if (last) end = text.size();
      try {
        out.records.push_back(parse_json_text(std::string_view(text).substr(from, end - from)));
      } catch (const std::exception& e) {
        // Cut short by a crash while it was written: never acknowledged, so nothing is lost.
        if (!last) out.problems.push_back(dir_ + "/" + name + " at byte " + std::to_string(from) + ": " + e.what());
      }
      from = end + 1;
    }
  }
  return out;
}

void WriteAheadLog::start_segment(size_t at_least) {
  size_ = std::max(segment_bytes_, (at_least + 4095) / 4096 * 4096);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.log", static_cast<unsigned long long>(next_seq_++));
  const std::string shown = dir_ + "/" + name;
  UniqueFd fd(::openat(dir_fd_.get(), name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_sys("open(" + cellblock::quoted(shown) + ")");
  // Real zeros, not fallocate(): an fdatasync of a block fallocate left "unwritten" has to commit
  // the extent's conversion to the ext4 journal, which is what the log is here to avoid.
  write_all(fd.get(), std::string(size_, '\0'), shown);
  if (::fsync(fd.get()) != 0) throw_sys("fsync(" + cellblock::quoted(shown) + ")");
  if (::fsync(dir_fd_.get()) != 0) throw_sys("fsync(" + cellblock::quoted(dir_) + ")");
  segment_ = std::move(fd);
  used_ = 0;
}

void WriteAheadLog::append(const nlohmann::json& record) {
  const std::string line = dump_json(record) + "\n";
  if (!segment_ || used_ + line.size() > size_) {
    if (segment_) checkpoint();
    start_segment(line.size());
  }
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::pwrite(segment_.get(), line.data() + done, line.size() - done, static_cast<off_t>(used_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_sys("pwrite(" + cellblock::quoted(dir_) + " segment)");
    done += static_cast<size_t>(n);
  }
  used_ += line.size();
  unsynced_ = true;
}

void WriteAheadLog::sync() {
  if (!unsynced_ || !segment_) return;
  if (::fdatasync(segment_.get()) != 0) throw_sys("fdatasync(" + cellblock::quoted(dir_) + " segment)");
  unsynced_ = false;
}

void WriteAheadLog::checkpoint() {
  // The log on disk first: the files written next may remove others (a job's file goes with its
  // result), and ext4 can commit that before a dirty page of the segment reaches the disk.
  sync();
  if (write_files_) write_files_();
  if (::syncfs(fs_fd_) != 0) throw_sys("syncfs(" + cellblock::quoted(dir_) + ")");
  segment_.reset();
  unsynced_ = false;
  for (const std::string& name : names_in(dir_fd_.get()))
    if (is_segment(name) && ::unlinkat(dir_fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
      throw_sys("unlink(" + cellblock::quoted(dir_ + "/" + name) + ")");
}

}  // namespace cellblock::service
