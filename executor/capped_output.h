// One captured stream (stdout or stderr): keeps at most `cap` bytes and remembers whether more
// was offered, so a flood never grows the supervisor's memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cellblock {

class CappedOutput {
 public:
  explicit CappedOutput(size_t cap) : cap_(cap) {}
  // Returns false once the stream has passed its cap.
  bool append(const char* data, size_t n) {
    size_t room = cap_ - data_.size();
    data_.append(data, n < room ? n : room);
    if (n > room) truncated_ = true;
    return !truncated_;
  }
  bool truncated() const noexcept { return truncated_; }
  size_t size() const noexcept { return data_.size(); }
  // The bytes kept so far, from `from` on (what the last append() added: size() before it).
  std::string_view kept_since(size_t from) const noexcept { return std::string_view(data_).substr(from); }
  std::string take() { return std::move(data_); }

 private:
  size_t cap_;
  std::string data_;
  bool truncated_ = false;
};

}  // namespace cellblock
