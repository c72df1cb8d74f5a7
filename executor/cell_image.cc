#include "executor/cell_image.h"

#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

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

// Where the image lies in this process's executable file: the file offset of its bytes within the
// main program's PT_LOAD segment that holds them, if one holds them all.
std::optional<off_t> image_offset_in_executable() {
  struct Search {
    uintptr_t from, to;
    std::optional<off_t> offset;
  } search{reinterpret_cast<uintptr_t>(cellblock_init_image), reinterpret_cast<uintptr_t>(cellblock_init_image_end), {}};
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        Search& s = *static_cast<Search*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && s.from >= start && s.to <= start + ph.p_filesz)
            s.offset = static_cast<off_t>(ph.p_offset + (s.from - start));
        }
        return 1;  // the first object is the main program: stop after it
      },
      &search);
  return search.offset;
}

// Copies the image into `mem` inside the kernel, from the executable's page cache. Writing it
// from the mapped bytes instead faults their pages into this process first, on a machine where a
// fault costs 10 us: a one-shot `cellblock run`'s executor_start went 2.24 -> 1.43 ms with this.
// False if it could not (no /proc, an image outside the file).
bool copy_image_from_executable(int mem) {
  const std::optional<off_t> offset = image_offset_in_executable();
  if (!offset) return false;
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return false;
  const std::string_view bytes = image();
  off_t at = *offset;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::sendfile(mem, exe.get(), &at, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  // The same file backs the mapped bytes (its page cache), so a whole copy is the image; the first
  // page is compared all the same, a cheap check that the offset found is the image's.
  char head[4096];
  const size_t check = std::min(sizeof head, bytes.size());
  return done == bytes.size() && ::pread(mem, head, check, 0) == static_cast<ssize_t>(check) &&
         std::memcmp(head, bytes.data(), check) == 0;
}

UniqueFd new_image_memfd() {
  UniqueFd mem(::memfd_create("cellblock-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!mem && errno == EINVAL) mem.reset(::memfd_create("cellblock-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  return mem;
}

bool seal_image(int mem) {
  ::fchmod(mem, 0555);
  return ::fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
}

}  // namespace

UniqueFd make_cell_image(const std::string& state_dir) {
  UniqueFd mem = new_image_memfd();
  if (mem) {
    if (copy_image_from_executable(mem.get()) && seal_image(mem.get())) return mem;
    // The seal after a sendfile was refused once in a few hundred processes of bench/run (EBUSY:
    // the kernel still saw a page of the memfd referenced after its waits); a memfd written from
    // the mapped bytes never was in the benchmarks' thousands. So a fresh one of those is the
    // fallback, for that and any other failure.
    mem = new_image_memfd();
    if (!mem) throw_sys("memfd_create(\"cellblock-init\")");
    write_all(mem.get(), image(), "the init image memfd");
    if (!seal_image(mem.get())) throw_sys("seal the init image memfd");
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
