// nftables through libnftables: commands in nft's own syntax, run in-process as one
// transaction each (all or nothing), never by exec'ing `nft`. The rule text lives in
// bridge_rules.h; this only runs it and turns a failure into an exception with nft's message.
#pragma once

#include <stdexcept>
#include <string>

namespace cellblock {

class NftError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Opens the process's libnftables context now, while descriptor numbers are low (nft.cc says
// why). Called when an executor starts; idempotent. Throws NftError.
void nft_prepare();
// Runs `commands` (one or more lines). Throws NftError with nft's error output. Thread-safe:
// calls take turns on one context.
void nft_run(const std::string& commands);
// As nft_run, but a failure comes back as false (e.g. deleting what is already gone, or a kernel
// without nf_tables).
bool nft_try(const std::string& commands);
// The output of a list command, e.g. "list table inet cellblock0"; throws NftError.
std::string nft_list(const std::string& command);

}  // namespace cellblock
