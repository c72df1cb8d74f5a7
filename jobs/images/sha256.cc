#include "jobs/images/sha256.h"

#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "executor/base/libcrypto_library.h"
#include "executor/base/sys_error.h"

namespace cellblock::images {

struct Sha256::Ctx {
  const LibcryptoLibrary& crypto = libcrypto_library();
  EVP_MD_CTX* md = crypto.md_ctx_new();
  ~Ctx() { crypto.md_ctx_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->md || ctx_->crypto.digest_init_ex(ctx_->md, ctx_->crypto.sha256(), nullptr) != 1)
    throw std::runtime_error("libcrypto: cannot start a SHA-256 digest");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
  if (size && ctx_->crypto.digest_update(ctx_->md, data, size) != 1) throw std::runtime_error("libcrypto: SHA-256 update failed");
}

std::string Sha256::hex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (ctx_->crypto.digest_final_ex(ctx_->md, out, &len) != 1) throw std::runtime_error("libcrypto: SHA-256 final failed");
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += digits[out[i] >> 4];
    hex += digits[out[i] & 15];
  }
  return hex;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

std::string sha256_fd(int fd, const std::string& what) {
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("read(" + cellblock::quoted(what) + ")");
    if (n == 0) break;
    h.update(buf, static_cast<size_t>(n));
  }
  return h.hex();
}

std::string parse_digest(const std::string& digest, const std::string& what) {
  const std::string prefix = "sha256:";
  if (digest.rfind(prefix, 0) != 0)
    throw std::invalid_argument(what + " " + cellblock::quoted(digest) + ": only sha256 digests are supported");
  std::string hex = digest.substr(prefix.size());
  if (hex.size() != 64) throw std::invalid_argument(what + " " + cellblock::quoted(digest) + ": expected 64 hex digits");
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      throw std::invalid_argument(what + " " + cellblock::quoted(digest) + ": expected lowercase hex digits");
  return hex;
}

}  // namespace cellblock::images
