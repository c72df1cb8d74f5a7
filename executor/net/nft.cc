#include "executor/net/nft.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <mutex>
#include <string>

#include "executor/base/shared_library.h"

namespace cellblock {
namespace {

// libnftables, loaded when the first nftables context is made rather than by every process at
// start: only bridged jobs need it, yet linking it made every cellblock process load it and its
// dependencies (libnftnl, libxtables, libjansson, libgmp): about 60 page faults and 1-2.5 ms per
// process on a paravirtualised guest (perf stat of a program that only links it, against one that
// links nothing). The functions are libnftables' own, found with dlsym; their types come from
// its header.
struct NftablesLibrary {
  decltype(&::nft_ctx_new) ctx_new;
  decltype(&::nft_ctx_buffer_output) ctx_buffer_output;
  decltype(&::nft_ctx_buffer_error) ctx_buffer_error;
  decltype(&::nft_run_cmd_from_buffer) run_cmd_from_buffer;
  decltype(&::nft_ctx_get_output_buffer) ctx_get_output_buffer;
  decltype(&::nft_ctx_get_error_buffer) ctx_get_error_buffer;
};

// Called under `mutex` by the first context's making (again after a failed load).
NftablesLibrary load_nftables() {
  try {
    // The runtime library of Debian's libnftables-dev (package libnftables1).
    const SharedLibrary library("libnftables.so.1", "for bridged jobs' rules");
    NftablesLibrary n{};
    library.bind(n.ctx_new, "nft_ctx_new");
    library.bind(n.ctx_buffer_output, "nft_ctx_buffer_output");
    library.bind(n.ctx_buffer_error, "nft_ctx_buffer_error");
    library.bind(n.run_cmd_from_buffer, "nft_run_cmd_from_buffer");
    library.bind(n.ctx_get_output_buffer, "nft_ctx_get_output_buffer");
    library.bind(n.ctx_get_error_buffer, "nft_ctx_get_error_buffer");
    return n;
  } catch (const std::runtime_error& e) {
    throw NftError(std::string("nftables: ") + e.what());
  }
}


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
NftablesLibrary nft{};
nft_ctx* context = nullptr;

// libnftables opens its netlink socket without SOCK_CLOEXEC and gives no way to reach it, so every
// netfilter netlink socket of the process is marked close-on-exec once the context is made:
// nothing the supervisor execs (a hook, a helper) inherits a socket that can change the host's
// firewall. Marking one of ours again does no harm. The directory's own descriptor is no socket.
void mark_netfilter_sockets_cloexec() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::stoi(entry.path().filename().string());
    int domain = 0, protocol = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_NETLINK) continue;
    len = sizeof protocol;
    if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 || protocol != NETLINK_NETFILTER) continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// libnftables 1.0 calls exit() when it cannot open its netlink socket ("mnl.c: Unable to
// initialize Netlink socket"), which would end the whole supervisor on a kernel without nf_tables
// (the cgroup-v2 test VM's has none). So the socket is tried here first, and a kernel without it
// makes bridged jobs fail with this reason instead.
void require_nf_netlink() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0)
    throw NftError(std::string("nftables: this kernel has no netfilter netlink (socket(AF_NETLINK, NETLINK_NETFILTER): ") +
                   std::strerror(errno) + ")");
  ::close(fd);
}

nft_ctx* prepared() {
  if (!context) {
    require_nf_netlink();
    if (!nft.ctx_new) nft = load_nftables();
    context = nft.ctx_new(NFT_CTX_DEFAULT);
    if (!context) throw NftError("nft_ctx_new failed");
    mark_netfilter_sockets_cloexec();
    nft.ctx_buffer_output(context);
    nft.ctx_buffer_error(context);
  }
  return context;
}

Result run(const std::string& commands) {
  std::lock_guard lock(mutex);
  nft_ctx* ctx = prepared();
  const int rc = nft.run_cmd_from_buffer(ctx, commands.c_str());
  // Each get rewinds its buffer: the next command's text starts afresh.
  Result r{rc == 0, nft.ctx_get_output_buffer(ctx), nft.ctx_get_error_buffer(ctx)};
  while (!r.error.empty() && r.error.back() == '\n') r.error.pop_back();
  return r;
}

}  // namespace

void nft_run(const std::string& commands) {
  Result r = run(commands);
  if (!r.ok) throw NftError("nftables: " + (r.error.empty() ? std::string("failed") : r.error));
}

bool nft_try(const std::string& commands) {
  try {
    return run(commands).ok;
  } catch (const NftError&) {
    return false;  // no nf_tables at all: nothing of ours can be there to delete either
  }
}

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
