#include "jobs/images/layer_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/images/remove_tree.h"
#include "jobs/images/sha256.h"

namespace cellblock::images {
namespace {

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + cellblock::quoted(path) + ")");
}

UniqueFd open_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys("open(" + cellblock::quoted(path) + ")");
  return fd;
}

void flock_or_throw(int fd, int op, const std::string& what) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) throw_sys("flock(" + cellblock::quoted(what) + ")");
  }
}

void write_file_atomically(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/." + name + ".tmp" + std::to_string(::getpid());
  {
    HostOutputFile out(tmp);
    out.write(data);
  }
  if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) throw_sys("rename(" + cellblock::quoted(tmp) + ")");
}

}  // namespace

LayerCache::LayerCache(const std::string& state_dir) : root_(state_dir + "/layers") {
  make_dir(state_dir);
  make_dir(root_);
  for (const char* sub : {"sha256", "meta", "locks", "tmp"}) make_dir(root_ + "/" + sub);
}

std::string LayerCache::dir_of(const std::string& diff_id) const { return root_ + "/sha256/" + diff_id; }

bool LayerCache::has(const std::string& diff_id) const {
  struct stat st;
  return ::lstat(dir_of(diff_id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::optional<LayerInfo> LayerCache::info(const std::string& diff_id) const {
  if (!has(diff_id)) return std::nullopt;
  LayerInfo info{diff_id};
  try {
    auto j = nlohmann::json::parse(read_host_file(root_ + "/meta/" + diff_id + ".json"));
    info.bytes = j.value("bytes", uint64_t{0});
    info.entries = j.value("entries", uint64_t{0});
  } catch (const std::exception&) {
    // A layer from before its meta file was written still works; it counts as 0 bytes.
  }
  return info;
}

std::vector<LayerInfo> LayerCache::list() const {
  std::vector<LayerInfo> out;
  UniqueFd dir = open_dir(root_ + "/sha256");
  DIR* d = ::fdopendir(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
  if (!d) throw_sys("fdopendir(" + cellblock::quoted(root_ + "/sha256") + ")");
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() != 64) continue;
    if (auto i = info(name)) out.push_back(*i);
  }
  ::closedir(d);
  return out;
}

UniqueFd LayerCache::lock_file(const std::string& diff_id, const char* kind) const {
  std::string path = root_ + "/locks/" + diff_id + "." + kind;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_sys("open(" + cellblock::quoted(path) + ")");
  return fd;
}

LayerInfo LayerCache::ensure(const std::string& diff_id, const std::function<std::unique_ptr<ByteSource>()>& open,
                             const UnpackLimits& limits, const std::function<void(uint64_t)>& progress, bool* unpacked) {
  parse_digest("sha256:" + diff_id, "diff_id");  // the hex becomes a path component
  if (unpacked) *unpacked = false;
  if (auto i = info(diff_id)) return *i;
  UniqueFd lock = lock_file(diff_id, "unpack");
  flock_or_throw(lock.get(), LOCK_EX, diff_id);
  if (auto i = info(diff_id)) return *i;  // another process unpacked it while we waited

  UniqueFd tmp = open_dir(root_ + "/tmp");
  remove_tree_at(tmp.get(), diff_id);  // what a crashed unpack left
  if (::mkdirat(tmp.get(), diff_id.c_str(), 0755) != 0) throw_sys("mkdirat(" + cellblock::quoted(root_ + "/tmp/" + diff_id) + ")");
  try {
    UniqueFd target(::openat(tmp.get(), diff_id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!target) throw_sys("openat(" + cellblock::quoted(root_ + "/tmp/" + diff_id) + ")");
    if (::fchmod(target.get(), 0755) != 0) throw_sys("fchmod(" + cellblock::quoted(root_ + "/tmp/" + diff_id) + ")");
    std::unique_ptr<ByteSource> source = open();
    UnpackResult r = unpack_layer(*source, target.get(), limits, progress);
    if (r.diff_id != diff_id)
      throw LayerRefused("layer sha256:" + diff_id + ": the uncompressed content is sha256:" + r.diff_id +
                         ", not the config's diff_id");
    // On disk before the rename makes it visible: a crash never leaves a layer half-written.
    if (::syncfs(target.get()) != 0) throw_sys("syncfs(" + cellblock::quoted(root_) + ")");
    write_file_atomically(root_ + "/meta", diff_id + ".json",
                          nlohmann::json{{"bytes", r.bytes}, {"entries", r.entries}}.dump() + "\n");
    UniqueFd sha = open_dir(root_ + "/sha256");
    if (::renameat(tmp.get(), diff_id.c_str(), sha.get(), diff_id.c_str()) != 0)
      throw_sys("rename(" + cellblock::quoted(root_ + "/tmp/" + diff_id) + " -> " + cellblock::quoted(dir_of(diff_id)) + ")");
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    UniqueFd log(::open((root_ + "/unpacked.log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (log) write_all(log.get(), diff_id + " " + std::to_string(::getpid()) + " " + std::to_string(now) + "\n", "unpacked.log");
    if (unpacked) *unpacked = true;
    return LayerInfo{diff_id, r.bytes, r.entries};
  } catch (...) {
    try {
      remove_tree_at(tmp.get(), diff_id);
    } catch (const std::exception&) {
      // The next unpack of this layer clears it.
    }
    throw;
  }
}

UniqueFd LayerCache::hold(const std::string& diff_id) const {
  UniqueFd lock = lock_file(diff_id, "use");
  flock_or_throw(lock.get(), LOCK_SH, diff_id);
  return lock;
}

bool LayerCache::remove(const std::string& diff_id) {
  parse_digest("sha256:" + diff_id, "diff_id");
  UniqueFd unpack = lock_file(diff_id, "unpack");
  flock_or_throw(unpack.get(), LOCK_EX, diff_id);
  UniqueFd use = lock_file(diff_id, "use");
  if (::flock(use.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;  // a job uses it
    throw_sys("flock(" + cellblock::quoted(diff_id) + ")");
  }
  // Out of sha256/ first, with one rename, so no job ever sees a half-removed layer.
  UniqueFd sha = open_dir(root_ + "/sha256");
  UniqueFd tmp = open_dir(root_ + "/tmp");
  remove_tree_at(tmp.get(), diff_id);
  if (::renameat(sha.get(), diff_id.c_str(), tmp.get(), diff_id.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_sys("rename(" + cellblock::quoted(dir_of(diff_id)) + ")");
  }
  remove_tree_at(tmp.get(), diff_id);
  ::unlink((root_ + "/meta/" + diff_id + ".json").c_str());
  return true;
}

}  // namespace cellblock::images
