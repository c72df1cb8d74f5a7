#include "executor/cell_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"

extern "C" const char cellblock_init_image[];
extern "C" const char cellblock_init_image_end[];

namespace cellblock {
namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: ask for an executable memfd explicitly
#endif

// The embedded bytes themselves, written straight from the binary's read-only data: a copy on the
// heap first cost a megabyte of page faults and a memmove on every process start.
std::string_view image() {
  return {cellblock_init_image, static_cast<size_t>(cellblock_init_image_end - cellblock_init_image)};
}

}  // namespace

UniqueFd make_cell_image(const std::string& state_dir) {
  UniqueFd mem(::memfd_create("cellblock-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!mem && errno == EINVAL) mem.reset(::memfd_create("cellblock-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (mem) {
    write_all(mem.get(), image(), "the init image memfd");
    ::fchmod(mem.get(), 0555);
    if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
      throw_sys("seal the init image memfd");
    return mem;
  }
  if (errno != EACCES && errno != EPERM) throw_sys("memfd_create(\"cellblock-init\")");
  // Executable memfds refused by policy: a root-only file in the state directory.
  std::string path = state_dir + "/cellblock-init";
  std::string tmp = path + ".tmp";
  {
    HostOutputFile out(tmp);
    out.write(image());
    if (::fchmod(out.fd(), 0500) != 0) throw_sys("chmod " + quoted(tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_sys("rename " + quoted(tmp));
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) throw_sys("open " + quoted(path));
  return fd;
}

}  // namespace cellblock
