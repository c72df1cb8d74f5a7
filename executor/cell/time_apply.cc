#include "executor/cell/time_apply.h"

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

namespace cellblock {
namespace {

// Set once by the init before it forks the command; the command reads its copy.
uint64_t g_offset_ns = 0;

// One line of timens_offsets: "<clock> <seconds> <nanoseconds>", the offset added to the host's
// clock. Whole seconds only: the clock then starts between 0 and 1 s, never below 0 (the kernel
// refuses an offset that would make the clock negative).
void add_line(ChildText& t, const char* clock, clockid_t id, uint64_t* offset_ns) noexcept {
  timespec now;
  ::clock_gettime(id, &now);
  t.add(clock).add(" -").number(static_cast<long long>(now.tv_sec)).add(" 0\n");
  if (offset_ns) *offset_ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull;
}

}  // namespace

bool enter_time_namespace(ChildError& error) noexcept {
  if (::unshare(CLONE_NEWTIME) != 0) return error.fail([](ChildText& t) { t.add("unshare(CLONE_NEWTIME)"); });
  char text[128];
  ChildText t(text, sizeof text);
  uint64_t offset_ns = 0;
  add_line(t, "monotonic", CLOCK_MONOTONIC, &offset_ns);
  add_line(t, "boottime", CLOCK_BOOTTIME, nullptr);
  const size_t len = t.size();
  // /proc/self of the host's /proc, still mounted here: the init has not built the cell's yet.
  int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::write(fd, text, len) == static_cast<ssize_t>(len);
  int saved = errno;
  if (fd >= 0) ::close(fd);
  errno = saved;
  if (!ok) return error.fail([&](ChildText& m) { m.add("write ").quoted(text).add(" to /proc/self/timens_offsets"); });
  g_offset_ns = offset_ns;
  return true;
}

uint64_t time_namespace_offset_ns() noexcept { return g_offset_ns; }

}  // namespace cellblock
