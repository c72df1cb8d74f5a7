#include "jobs/service/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock::service {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr size_t kIdLength = 20;

// Ids are unguessable, so that one client cannot read another's files by counting.
std::string random_id() {
  std::random_device random;
  std::string id;
  for (size_t i = 0; i < kIdLength; ++i) id += kAlphabet[random() % 32];
  return id;
}

bool is_id(const std::string& name) {
  return name.size() == kIdLength && name.find_first_not_of(kAlphabet) == std::string::npos;
}

// Written under a temporary name and renamed: a crash leaves the old state or the new one.
void write_atomically(const std::string& path, const std::string& data) {
  const std::string temporary = path + ".tmp";
  {
    UniqueFd fd{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (!fd) throw_sys("create " + cellblock::quoted(temporary));
    write_all(fd.get(), data, temporary);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) throw_sys("rename " + cellblock::quoted(temporary));
}

}  // namespace

FileStore::FileStore(uint64_t max_bytes, std::string dir) : max_bytes_(max_bytes), dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  ::chmod(dir_.c_str(), 0700);
  // The name is written before the bytes, so a file whose bytes are there is complete; a name
  // without bytes, or a temporary, is what a crash left mid-way.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string file = entry.path().filename();
    const std::string path = entry.path();
    if (is_id(file) && std::filesystem::exists(path + ".name")) {
      File f{read_host_file(path + ".name"), read_host_file(path)};
      used_bytes_ += f.content.size();
      files_[file] = std::move(f);
    } else if (!(file.size() == kIdLength + 5 && is_id(file.substr(0, kIdLength)) && file.ends_with(".name") &&
                 std::filesystem::exists(dir_ + "/" + file.substr(0, kIdLength)))) {
      std::filesystem::remove(path);
    }
  }
  if (!files_.empty())
    spdlog::info("service: {} files ({} bytes) in the file store {}", files_.size(), used_bytes_, dir_);
}

std::optional<std::string> FileStore::add(std::string name, std::string content) {
  if (content.size() > max_bytes_ - std::min(used_bytes_, max_bytes_)) return std::nullopt;
  std::string id;
  do id = random_id();
  while (files_.count(id));
  write_atomically(dir_ + "/" + id + ".name", name);
  write_atomically(dir_ + "/" + id, content);
  used_bytes_ += content.size();
  files_[id] = File{std::move(name), std::move(content)};
  return id;
}

const FileStore::File* FileStore::find(const std::string& id) const {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : &it->second;
}

bool FileStore::remove(const std::string& id) {
  auto it = files_.find(id);
  if (it == files_.end()) return false;
  // The bytes first: a crash between the two leaves a name alone, which the next start removes.
  for (const std::string& path : {dir_ + "/" + id, dir_ + "/" + id + ".name"})
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) spdlog::warn("gojudge: unlink {}: {}", path, std::strerror(errno));
  used_bytes_ -= it->second.content.size();
  files_.erase(it);
  return true;
}

std::string FileStore::full_message() const {
  return "the file store is full (" + std::to_string(used_bytes_) + " of " + std::to_string(max_bytes_) +
         " bytes used, --file-store-max): DELETE /v1/files/{id} or /file/{id} what is no longer needed";
}

std::map<std::string, std::string> FileStore::list() const {
  std::map<std::string, std::string> out;
  for (const auto& [id, f] : files_) out[id] = f.name;
  return out;
}

}  // namespace cellblock::service
