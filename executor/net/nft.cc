#include "executor/net/nft.h"

#include <nftables/libnftables.h>

#include <mutex>

namespace cellblock {
namespace {

struct Result {
  bool ok;
  std::string output;
  std::string error;
};

// One context for the process, made early and used under a lock. libnftables waits on its netlink
// socket with select(), which aborts the process ("bit out of range 0 - FD_SETSIZE") for a
// descriptor number past 1023; a supervisor running a hundred jobs holds more descriptors than
// that, so the socket is opened once, while the numbers are still low (nft_prepare()).
std::mutex mutex;
nft_ctx* context = nullptr;

nft_ctx* prepared() {
  if (!context) {
    context = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!context) throw NftError("nft_ctx_new failed");
    nft_ctx_buffer_output(context);
    nft_ctx_buffer_error(context);
  }
  return context;
}

Result run(const std::string& commands) {
  std::lock_guard lock(mutex);
  nft_ctx* ctx = prepared();
  const int rc = nft_run_cmd_from_buffer(ctx, commands.c_str());
  // Each get rewinds its buffer: the next command's text starts afresh.
  Result r{rc == 0, nft_ctx_get_output_buffer(ctx), nft_ctx_get_error_buffer(ctx)};
  while (!r.error.empty() && r.error.back() == '\n') r.error.pop_back();
  return r;
}

}  // namespace

void nft_run(const std::string& commands) {
  Result r = run(commands);
  if (!r.ok) throw NftError("nftables: " + (r.error.empty() ? std::string("failed") : r.error));
}

bool nft_try(const std::string& commands) { return run(commands).ok; }

std::string nft_list(const std::string& command) {
  Result r = run(command);
  if (!r.ok) throw NftError("nftables: " + (r.error.empty() ? std::string("failed") : r.error));
  return r.output;
}

void nft_prepare() {
  std::lock_guard lock(mutex);
  prepared();
}

}  // namespace cellblock
