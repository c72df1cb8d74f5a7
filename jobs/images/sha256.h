// SHA-256 through libcrypto's EVP interface, and the "sha256:<hex>" digests images name their
// blobs and layers by. A digest's hex becomes a path component (blobs/sha256/<hex>,
// layers/sha256/<hex>), so parse_digest accepts exactly 64 lowercase hex digits and nothing else.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace cellblock::images {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  std::string hex();  // finishes; 64 lowercase hex digits

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);
// Hashes the whole file behind fd from its current offset. Throws SysError.
std::string sha256_fd(int fd, const std::string& what);

// "sha256:<64 lowercase hex>" -> the hex. Throws std::invalid_argument saying why, naming `what`.
std::string parse_digest(const std::string& digest, const std::string& what);

}  // namespace cellblock::images
