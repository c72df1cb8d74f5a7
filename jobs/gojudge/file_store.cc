#include "jobs/gojudge/file_store.h"

#include <random>

namespace cellblock::gojudge {
namespace {

// Ids are unguessable, so that one client cannot read another's files by counting.
std::string random_id() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device random;
  std::string id;
  for (int i = 0; i < 20; ++i) id += kAlphabet[random() % 32];
  return id;
}

}  // namespace

std::optional<std::string> FileStore::add(std::string name, std::string content) {
  if (content.size() > max_bytes_ - used_bytes_) return std::nullopt;
  std::string id;
  do id = random_id();
  while (files_.count(id));
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
  used_bytes_ -= it->second.content.size();
  files_.erase(it);
  return true;
}

std::map<std::string, std::string> FileStore::list() const {
  std::map<std::string, std::string> out;
  for (const auto& [id, f] : files_) out[id] = f.name;
  return out;
}

}  // namespace cellblock::gojudge
