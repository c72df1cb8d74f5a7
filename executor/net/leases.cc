#include "executor/net/leases.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

LeaseDir::LeaseDir(std::string dir, Ipv4Net subnet) : dir_(std::move(dir)), subnet_(subnet) {
  std::filesystem::create_directories(dir_);
  ::chmod(dir_.c_str(), 0700);
}

uint32_t LeaseDir::take(const std::string& owner) {
  const uint32_t first = subnet_.address + 2;  // .0 is the network, .1 the gateway
  const uint32_t last = subnet_.broadcast() - 1;
  if (last < first) throw NetworkError("bridge subnet " + subnet_.to_string() + " has no address for jobs");
  const uint64_t count = uint64_t{last} - first + 1;
  // The lease is written whole under a private name and then linked to the address's name:
  // link() fails with EEXIST when the address is taken, and a lease is never seen half-written
  // (a cleanup would take an empty owner for a dead one).
  const std::string tmp = dir_ + "/.new-" + std::to_string(::getpid()) + "-" + std::to_string(::gettid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) throw_sys("open(" + cellblock::quoted(tmp) + ")");
    write_all(fd.get(), owner + "\n", cellblock::quoted(tmp));
  }
  struct Unlink {
    const std::string& path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_tmp{tmp};
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t address = first + static_cast<uint32_t>((next_ + i) % count);
    const std::string path = dir_ + "/" + ipv4_to_string(address);
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) continue;
      throw_sys("link(" + cellblock::quoted(tmp) + ", " + cellblock::quoted(path) + ")");
    }
    next_ = static_cast<uint32_t>((next_ + i + 1) % count);
    return address;
  }
  throw NetworkError("bridge subnet " + subnet_.to_string() + ": no free address (all " + std::to_string(count) +
                     " leased; see " + dir_ + ")");
}

void LeaseDir::release(uint32_t address) { release(dir_, address); }

void LeaseDir::release(const std::string& dir, uint32_t address) {
  const std::string path = dir + "/" + ipv4_to_string(address);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_sys("unlink(" + cellblock::quoted(path) + ")");
}

std::vector<std::pair<uint32_t, std::string>> LeaseDir::list() const { return list(dir_); }

std::vector<std::pair<uint32_t, std::string>> LeaseDir::list(const std::string& dir) {
  std::vector<std::pair<uint32_t, std::string>> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw_sys("opendir(" + cellblock::quoted(dir) + ")");
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  while (const dirent* e = ::readdir(d)) {
    auto address = parse_ipv4(e->d_name);
    if (!address) continue;
    std::string owner;
    UniqueFd fd(::openat(::dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd) owner = read_all(fd.get(), cellblock::quoted(dir + "/" + e->d_name));
    while (!owner.empty() && owner.back() == '\n') owner.pop_back();
    out.emplace_back(*address, owner);
  }
  return out;
}

}  // namespace cellblock
