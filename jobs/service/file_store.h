// The service's file store: files kept by id. A job's collected file with "keep" (the native
// API, GET/DELETE /v1/files/{id}), what a go-judge /run kept with copyOutCached or a client
// uploaded with POST /file (a later cmd's copyIn {"fileId"}, GET/DELETE /file/{id}): one store,
// so an id from either API works in the other. Kept in memory and on disk under the state
// directory (<state-dir>/files: "<id>" holds the bytes, "<id>.name" the name), so that a restart
// of the service finds them again. With a cap on the total size (`cellblock serve
// --file-store-max`): a client cannot grow the service without bound, and a full store says so
// instead of dropping older files behind a client's back. Used on the service's io thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace cellblock::service {

class FileStore {
 public:
  // Loads what a previous service left in `dir` (made if missing); files past the cap are
  // loaded too and only make the store full until deleted. Throws SysError.
  FileStore(uint64_t max_bytes, std::string dir);

  struct File {
    std::string name;     // the name it was copied out or uploaded as
    std::string content;
  };

  // Keeps the file and returns its new id (random, 20 characters), or none when it would take
  // the store past its cap. Throws SysError when it cannot be written to disk.
  std::optional<std::string> add(std::string name, std::string content);
  const File* find(const std::string& id) const;
  bool remove(const std::string& id);
  // id -> name, as GET /file lists them.
  std::map<std::string, std::string> list() const;

  uint64_t used_bytes() const { return used_bytes_; }
  uint64_t max_bytes() const { return max_bytes_; }
  const std::string& dir() const { return dir_; }
  // Why add() refused a file, for the client.
  std::string full_message() const;

 private:
  uint64_t max_bytes_;
  std::string dir_;
  uint64_t used_bytes_ = 0;
  std::map<std::string, File> files_;
};

}  // namespace cellblock::service
