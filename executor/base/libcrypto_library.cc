#include "executor/base/libcrypto_library.h"

#include "executor/base/shared_library.h"

namespace cellblock {
namespace {

LibcryptoLibrary load() {
  // The runtime library of Debian's libssl-dev (package libssl3), whose headers declare the types.
  const SharedLibrary library("libcrypto.so.3", "for SHA-256 digests");
  LibcryptoLibrary c{};
  library.bind(c.md_ctx_new, "EVP_MD_CTX_new");
  library.bind(c.md_ctx_free, "EVP_MD_CTX_free");
  library.bind(c.sha256, "EVP_sha256");
  library.bind(c.digest_init_ex, "EVP_DigestInit_ex");
  library.bind(c.digest_update, "EVP_DigestUpdate");
  library.bind(c.digest_final_ex, "EVP_DigestFinal_ex");
  library.bind(c.digest, "EVP_Digest");
  library.bind(c.memcmp, "CRYPTO_memcmp");
  return c;
}

}  // namespace

const LibcryptoLibrary& libcrypto_library() {
  // A failed load throws out of the initialiser and is tried again by the next call.
  static const LibcryptoLibrary library = load();
  return library;
}

}  // namespace cellblock
