// SysError: a failed system call with its arguments and errno, e.g.
//   mount("/a" -> "/b", MS_BIND|MS_REC): Permission denied
// Callers branch on code(), never on the message text.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace cellblock {

class SysError : public std::system_error {
 public:
  SysError(int err, std::string call) : std::system_error(err, std::generic_category(), std::move(call)) {}
  int err() const noexcept { return code().value(); }
};

// Throws SysError(errno, call) — use right after a failed call, before errno changes.
[[noreturn]] void throw_sys(std::string call);

// Quote a path or argument the way error messages show it: "..." with escapes.
std::string quoted(std::string_view s);

}  // namespace cellblock
