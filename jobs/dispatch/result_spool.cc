#include "jobs/dispatch/result_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "executor/base/dir_files.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

constexpr std::string_view kSuffix = ".json";

// "00000000000000000042.json": what next_name() makes, and nothing else.
bool is_result_file(const std::string& name) {
  const size_t digits = name.size() - std::min(name.size(), kSuffix.size());
  return digits > 0 && name.compare(digits, kSuffix.size(), kSuffix) == 0 &&
         std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(digits), [](unsigned char c) { return std::isdigit(c); });
}

// Locks `dir`'s lock file without waiting; an invalid fd when another process holds it.
UniqueFd try_lock(int dir, const std::string& what) {
  UniqueFd lock(::openat(dir, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) throw_sys("open(" + cellblock::quoted(what + "/lock") + ")");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) return lock;
  if (errno != EWOULDBLOCK) throw_sys("flock(" + cellblock::quoted(what + "/lock") + ")");
  return UniqueFd();
}

void sync_dir(int dir, const std::string& what) {
  if (::fsync(dir) != 0) throw_sys("fsync(" + cellblock::quoted(what) + ")");
}

std::string encode(const Finished& f) {
  nlohmann::json j{{"stream", f.job.stream}, {"entry", f.job.entry_id}, {"id", f.job.id},
                   {"job", f.job.text},      {"deliveries", f.job.deliveries}, {"result", f.result_json}};
  if (f.dead_reason) j["dead_reason"] = *f.dead_reason;
  return j.dump() + "\n";
}

Finished decode(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  Finished f;
  f.job.stream = j.at("stream").get<std::string>();
  f.job.entry_id = j.at("entry").get<std::string>();
  f.job.id = j.at("id").get<std::string>();
  f.job.text = j.at("job").get<std::string>();
  f.job.deliveries = j.at("deliveries").get<long long>();
  f.result_json = j.at("result").get<std::string>();
  if (j.contains("dead_reason")) f.dead_reason = j.at("dead_reason").get<std::string>();
  return f;
}

}  // namespace

std::string path_component(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out.empty() ? "%" : out;
}

std::filesystem::path spool_root(const std::string& state_dir, const std::string& host, int port, int db,
                                 const std::string& queue) {
  return std::filesystem::path(state_dir) / "worker-spool" /
         (path_component(host) + "_" + std::to_string(port) + "_" + std::to_string(db) + "_" + path_component(queue));
}

ResultSpool::ResultSpool(const std::filesystem::path& root, const std::string& owner) : root_(root) {
  std::filesystem::create_directories(root_.parent_path());
  root_fd_ = open_or_make_dir(root_.string());
  const std::string own = path_component(owner);
  dir_ = root_ / own;
  dir_fd_ = open_or_make_dir_at(root_fd_.get(), own);
  lock_ = try_lock(dir_fd_.get(), dir_.string());
  if (!lock_)
    throw std::runtime_error("--name " + cellblock::quoted(owner) + ": another live worker on this --state-dir has that name (" +
                             dir_.string() + "/lock is locked)");
  // A temporary file is a result whose write did not finish: its job was never acked, and it
  // runs again when reclaimed.
  for (const std::string& name : names_in(dir_fd_.get(), true)) {
    if (name[0] == '.') ::unlinkat(dir_fd_.get(), name.c_str(), 0);
    else if (is_result_file(name)) next_ = std::max(next_, std::stoull(name) + 1);
  }
  for (const std::string& name : names_in(root_fd_.get()))
    if (name != own) adopt(name);
  sync_dir(dir_fd_.get(), dir_.string());
}

void ResultSpool::adopt(const std::string& name) {
  UniqueFd other(::openat(root_fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!other) return;  // not a directory, or gone: another worker took it over just now
  const std::string what = (root_ / name).string();
  UniqueFd lock = try_lock(other.get(), what);
  if (!lock) return;  // its worker lives
  size_t moved = 0;
  for (const std::string& file : names_in(other.get(), true)) {
    if (file == "lock") continue;
    if (!is_result_file(file)) {
      ::unlinkat(other.get(), file.c_str(), 0);
      continue;
    }
    const std::string mine = next_name();
    if (::renameat(other.get(), file.c_str(), dir_fd_.get(), mine.c_str()) != 0)
      throw_sys("rename(" + cellblock::quoted(what + "/" + file) + ", " + cellblock::quoted((dir_ / mine).string()) + ")");
    ++moved;
  }
  // The moves are durable before the old spool goes.
  sync_dir(dir_fd_.get(), dir_.string());
  ::unlinkat(other.get(), "lock", 0);
  if (::unlinkat(root_fd_.get(), name.c_str(), AT_REMOVEDIR) != 0)
    spdlog::debug("worker spool: {} stays: {}", what, std::strerror(errno));
  if (moved > 0) spdlog::info("worker spool: took over {} result(s) of a dead worker from {}", moved, what);
}

std::string ResultSpool::next_name() {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu", next_++);
  return std::string(name) + std::string(kSuffix);
}

std::vector<SpooledResult> ResultSpool::load() {
  std::vector<SpooledResult> out;
  for (const std::string& name : names_in(dir_fd_.get())) {
    if (!is_result_file(name)) continue;
    try {
      out.push_back({decode(read_file_at(dir_fd_.get(), name)), name});
    } catch (const nlohmann::json::exception& e) {
      spdlog::error("worker spool: {}: not a spooled result, left there: {}", (dir_ / name).string(), e.what());
    }
  }
  return out;
}

std::string ResultSpool::put(const Finished& finished) {
  const std::string name = next_name();
  write_file_at(dir_fd_.get(), name, encode(finished), true);
  sync_dir(dir_fd_.get(), dir_.string());
  return name;
}

void ResultSpool::remove(const std::string& file) {
  if (::unlinkat(dir_fd_.get(), file.c_str(), 0) != 0 && errno != ENOENT) throw_sys("unlink(" + cellblock::quoted((dir_ / file).string()) + ")");
}

}  // namespace cellblock
