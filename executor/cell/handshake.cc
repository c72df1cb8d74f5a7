#include "executor/cell/handshake.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace cellblock {
namespace {

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

bool Handshake::open() noexcept {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return false;
  for (int& end : ends) {
    if (end > 2) continue;
    int moved = ::fcntl(end, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return false;
    ::close(end);
    end = moved;
  }
  read_ = ends[0];
  write_ = ends[1];
  return true;
}

bool Handshake::send(CellMessage message) noexcept {
  const char byte = static_cast<char>(message);
  ssize_t n;
  do n = ::write(write_, &byte, 1); while (n < 0 && errno == EINTR);
  int err = errno;
  close_fd(write_);
  errno = err;
  return n == 1;
}

int receive_message(int fd, CellMessage message) noexcept {
  char byte;
  ssize_t n;
  do n = ::read(fd, &byte, 1); while (n < 0 && errno == EINTR);
  return n < 0 ? errno : n == 0 ? EPIPE : byte == static_cast<char>(message) ? 0 : EPROTO;
}

int Handshake::wait(CellMessage message) noexcept {
  int err = receive_message(read_, message);
  close_fd(read_);
  return err;
}

void Handshake::close_sending_end() noexcept { close_fd(write_); }
void Handshake::close_receiving_end() noexcept { close_fd(read_); }

}  // namespace cellblock
