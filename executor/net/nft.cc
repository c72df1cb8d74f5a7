#include "executor/net/nft.h"

#include <nftables/libnftables.h>

#include <memory>

namespace cellblock {
namespace {

struct Result {
  bool ok;
  std::string output;
  std::string error;
};

Result run(const std::string& commands) {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) throw NftError("nft_ctx_new failed");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  const int rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
  Result r{rc == 0, nft_ctx_get_output_buffer(ctx.get()), nft_ctx_get_error_buffer(ctx.get())};
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

}  // namespace cellblock
