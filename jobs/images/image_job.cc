#include "jobs/images/image_job.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <sstream>
#include <stdexcept>

#include "executor/base/sys_error.h"
#include "jobs/images/openat2_util.h"

namespace cellblock::images {
namespace {

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

uint32_t small_id(const std::string& s, const std::string& user) {
  unsigned long v = std::stoul(s);
  // A user namespace maps 0-65535 inside the cell (job_json.cc takes the same range).
  if (s.size() > 5 || v > 65535) throw std::invalid_argument("image user " + cellblock::quoted(user) + ": ids go up to 65535");
  return static_cast<uint32_t>(v);
}

// The line of an /etc/passwd- or /etc/group-style file whose field `key_field` is `key`.
std::optional<std::vector<std::string>> find_line(const std::string& text, size_t key_field, const std::string& key) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    size_t i = 0;
    while (true) {
      size_t end = line.find(':', i);
      f.push_back(line.substr(i, end == std::string::npos ? std::string::npos : end - i));
      if (end == std::string::npos) break;
      i = end + 1;
    }
    if (f.size() > std::max<size_t>(key_field, 3) && f[key_field] == key) return f;
  }
  return std::nullopt;
}

}  // namespace

Identity parse_image_user(const std::string& user,
                          const std::function<std::optional<std::string>(const std::string&)>& read_etc) {
  size_t colon = user.find(':');
  std::string u = user.substr(0, colon), g = colon == std::string::npos ? "" : user.substr(colon + 1);
  if (u.empty()) throw std::invalid_argument("image user " + cellblock::quoted(user) + ": no user");
  Identity id;
  std::optional<std::string> passwd;
  if (all_digits(u)) {
    id.uid = small_id(u, user);
    if (g.empty() && (passwd = read_etc("passwd")))
      if (auto f = find_line(*passwd, 2, u); f && all_digits((*f)[3])) id.gid = small_id((*f)[3], user);
  } else {
    passwd = read_etc("passwd");
    auto f = passwd ? find_line(*passwd, 0, u) : std::nullopt;
    if (!f || !all_digits((*f)[2]) || !all_digits((*f)[3]))
      throw std::invalid_argument("image user " + cellblock::quoted(user) + ": no user " + cellblock::quoted(u) + " in the image's /etc/passwd");
    id.uid = small_id((*f)[2], user);
    id.gid = small_id((*f)[3], user);
  }
  if (!g.empty()) {
    if (all_digits(g)) {
      id.gid = small_id(g, user);
    } else {
      auto group = read_etc("group");
      auto f = group ? find_line(*group, 0, g) : std::nullopt;
      if (!f || !all_digits((*f)[2]))
        throw std::invalid_argument("image user " + cellblock::quoted(user) + ": no group " + cellblock::quoted(g) + " in the image's /etc/group");
      id.gid = small_id((*f)[2], user);
    }
  }
  return id;
}

void apply_image_config(JobSpec& job, const ImageConfig& config, const std::optional<Identity>& user,
                        std::vector<std::string> lower_dirs) {
  for (const std::string& kv : config.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // not a variable; Docker ignores these too
    job.env.try_emplace(kv.substr(0, eq), kv.substr(eq + 1));  // the job's own value wins
  }
  if (job.command.empty()) {
    job.command = config.entrypoint;
    job.command.insert(job.command.end(), config.cmd.begin(), config.cmd.end());
    if (job.command.empty())
      throw std::invalid_argument("command: the job has none and the image config has no Entrypoint or Cmd");
  }
  if (job.cwd.empty()) job.cwd = config.working_dir.empty() ? "/" : config.working_dir;
  if (!job.user && user) job.user = user;
  // Overlay needs at least one lower layer; an image of no layers has no file system to run in.
  if (lower_dirs.empty()) throw std::invalid_argument("the image has no layers: nothing to run in");
  job.lower_dirs = std::move(lower_dirs);
}

std::optional<std::string> read_etc_file(const std::vector<std::string>& lower_dirs, const std::string& file) {
  for (const std::string& dir : lower_dirs) {
    UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!root) throw_sys("open(" + cellblock::quoted(dir) + ")");
    int fd = openat2_fd(root.get(), "etc/" + file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
                        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return std::nullopt;  // a symlink out of this layer, a whiteout device we may not open: not found
    }
    UniqueFd f(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;  // a whiteout hides it
    return read_beneath(root.get(), "etc/" + file, 1 << 20, dir + "/etc/" + file);
  }
  return std::nullopt;
}

std::optional<SourceStamp> source_stamp(const ImageRef& ref) {
  const std::string file = ref.transport == Transport::oci ? ref.path + "/index.json" : ref.path;
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  return SourceStamp{st.st_dev, st.st_ino, st.st_size,
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

ImageResolver::ImageResolver(const std::string& state_dir, ImportOptions options, ImageSources sources)
    : cache_(state_dir), store_(state_dir), options_(std::move(options)), sources_(sources) {
  options_.replace_only = sources == ImageSources::imported_only;
}

bool ImageResolver::hold_all(const std::vector<std::string>& layers) {
  // Held before checked: a gc that ran before the hold removed a layer only if nobody held it.
  bool complete = true;
  for (const std::string& id : layers) {
    if (!holds_.count(id)) holds_.emplace(id, cache_.hold(id));
    complete = complete && cache_.has(id);
  }
  return complete;
}

const ImageRecord& ImageResolver::import_once(const std::string& name) {
  ImageRef ref = parse_image_ref(name);
  // Asked every time: `cellblock image rm` takes an image away from the service at once.
  if (sources_ == ImageSources::imported_only && !store_.find(name))
    throw std::invalid_argument(cellblock::quoted(name) +
                                " is not imported on this host; here a job may name only an image the operator "
                                "imported (cellblock image import " + name + ")");
  // Stamped before the import: a change while it reads is seen at the next job.
  std::optional<SourceStamp> stamp = source_stamp(ref);
  auto it = images_.find(name);
  if (it != images_.end() && (!stamp || it->second.stamp == stamp)) return it->second.record;
  // The source is gone (the operator imported it and removed it): what the store and the layer
  // cache hold still runs. Without them the import below says what is missing.
  if (!stamp)
    if (std::optional<ImageRecord> stored = store_.find(name); stored && hold_all(stored->layers))
      return (images_[name] = Imported{std::move(*stored), std::nullopt}).record;
  for (int attempt = 0;; ++attempt) {
    ImageRecord record = import_image(ref, cache_, store_, options_).record;
    // A gc that ran between the import and the hold removed a layer: import once more.
    if (hold_all(record.layers)) return (images_[name] = Imported{std::move(record), stamp}).record;
    if (attempt == 1) throw std::runtime_error(name + ": its layers were removed while it was imported");
  }
}

void ImageResolver::resolve(JobSpec& job) {
  std::vector<std::string> lowers;
  ImageConfig config;
  {
    std::lock_guard lock(mutex_);
    const ImageRecord& record = import_once(parse_image_ref(job.image).text());
    if (!job.image_digest.empty() && job.image_digest != record.manifest_digest)
      throw std::invalid_argument("image_digest: the job was accepted for manifest " + job.image_digest + ", but " +
                                  job.image + " names " + record.manifest_digest + " now (the tag moved)");
    job.image_digest = record.manifest_digest;
    for (auto it = record.layers.rbegin(); it != record.layers.rend(); ++it) lowers.push_back(cache_.dir_of(*it));
    config = record.defaults;
  }
  std::optional<Identity> user;
  if (!job.user && !config.user.empty())
    user = parse_image_user(config.user, [&](const std::string& f) { return read_etc_file(lowers, f); });
  apply_image_config(job, config, user, std::move(lowers));
}

}  // namespace cellblock::images
