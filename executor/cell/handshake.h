// The handshakes between the cell's init and its command: named messages, each on a pipe of its
// own, never a bare byte. Async-signal-safe, no allocation.
//   cell_ready    init -> a command forked early: the file system is built, take your cwd
//   userns_ready  command -> init: my user namespace exists, write its maps
//   ids_mapped    init -> command: the maps are written
//   go            supervisor -> init: the prestart hooks have run, start the command
//                 (CellFds::go_read; the supervisor writes it, executor/hooks.h)
#pragma once

namespace cellblock {

enum class CellMessage : char { cell_ready = 'c', userns_ready = 'u', ids_mapped = 'm', go = 'g' };

// One message, one way, once. Both ends are close-on-exec and above fd 2 (the init has closed
// 0..2 and the command is about to put its stdio there).
class Handshake {
 public:
  // Makes the pipe; false with errno set.
  bool open() noexcept;
  // The sender's side: sends `message` and closes its end. False with errno set.
  bool send(CellMessage message) noexcept;
  // The receiver's side: waits for `message` and closes its end. 0; EPIPE when the sender ended
  // without sending (it reports its own failure); EPROTO when another message came.
  int wait(CellMessage message) noexcept;
  // After the fork, each side closes the end it does not use, so that a wait sees end-of-file
  // when the other side dies.
  void close_sending_end() noexcept;
  void close_receiving_end() noexcept;

 private:
  int read_ = -1, write_ = -1;
};

// Reads one message from `fd` (not closed): 0; EPIPE at end-of-file (the sender ended without
// sending); EPROTO when another message came; errno when the read failed.
int receive_message(int fd, CellMessage message) noexcept;

// The user-namespace path: the command unshares its user namespace and asks; the init, still
// privileged outside it, denies setgroups, writes the maps and answers.
struct UsernsHandshake {
  Handshake ready;   // userns_ready, command -> init
  Handshake mapped;  // ids_mapped, init -> command
};

}  // namespace cellblock
