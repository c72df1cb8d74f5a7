// libcrypto (OpenSSL 3), loaded when a digest is first needed rather than when the process
// starts. Only image import (layer digests) and the service's token check use it, yet linking it
// made every cellblock process map and relocate it at start: about 130 page faults and 1.5-4 ms
// per process on a paravirtualised guest, where a page fault is expensive (perf stat of a program
// that only links it, against one that links nothing), which a one-shot `cellblock run` paid for
// nothing. The
// functions are libcrypto's own, found with dlsym; their types come from its headers.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cellblock {

struct LibcryptoLibrary {
  decltype(&::EVP_MD_CTX_new) md_ctx_new;
  decltype(&::EVP_MD_CTX_free) md_ctx_free;
  decltype(&::EVP_sha256) sha256;
  decltype(&::EVP_DigestInit_ex) digest_init_ex;
  decltype(&::EVP_DigestUpdate) digest_update;
  decltype(&::EVP_DigestFinal_ex) digest_final_ex;
  decltype(&::EVP_Digest) digest;
  decltype(&::CRYPTO_memcmp) memcmp;  // constant time
};

// Loaded once per process, on the first call; thread-safe. Throws std::runtime_error naming the
// library or the symbol that could not be found.
const LibcryptoLibrary& libcrypto_library();

}  // namespace cellblock
