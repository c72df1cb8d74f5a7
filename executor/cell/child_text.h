// Building text in a child process between clone() and execve(), where malloc is forbidden
// (another thread of the supervisor may have held the allocator's lock at clone time).
// Everything here writes into a fixed buffer and is async-signal-safe.
#pragma once

#include <cstddef>

namespace cellblock {

class ChildText {
 public:
  ChildText(char* buf, size_t size) noexcept : buf_(buf), size_(size) { buf_[0] = '\0'; }

  ChildText& add(const char* s) noexcept {
    while (s && *s) put(*s++);
    return *this;
  }
  // Appends s in double quotes, the way SysError messages quote paths.
  ChildText& quoted(const char* s) noexcept {
    put('"');
    while (s && *s) {
      if (*s == '"' || *s == '\\') put('\\');
      put(*s++);
    }
    put('"');
    return *this;
  }
  ChildText& number(long long n) noexcept {
    char digits[24];
    int i = 0;
    unsigned long long u = n < 0 ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
    do digits[i++] = static_cast<char>('0' + u % 10); while (u /= 10);
    if (n < 0) put('-');
    while (i) put(digits[--i]);
    return *this;
  }
  const char* c_str() const noexcept { return buf_; }
  size_t size() const noexcept { return len_; }

 private:
  void put(char c) noexcept {
    if (len_ + 1 < size_) {
      buf_[len_++] = c;
      buf_[len_] = '\0';
    }
  }
  char* buf_;
  size_t size_;
  size_t len_ = 0;
};

}  // namespace cellblock
