// The address leases of one bridge, shared by every supervisor on the host: one file per leased
// address, <dir>/<a.b.c.d>, linked into place (so two supervisors never lease the same
// address) and holding its owner, the supervisor's state directory name (sv-<pid>-<start>), so
// that a supervisor started after a crash finds the leases of supervisors that are gone.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "executor/net/ipv4.h"

namespace cellblock {

// A bridge-network problem the job or the operator can fix: no free address, a subnet that
// overlaps the host's, a bridge that exists with another address.
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LeaseDir {
 public:
  // Creates `dir` (0700) if needed. The pool is the hosts of `subnet` after the gateway (its
  // first host), up to the one before the broadcast address.
  LeaseDir(std::string dir, Ipv4Net subnet);

  // Leases a free address for `owner`. Throws NetworkError when every one is taken.
  uint32_t take(const std::string& owner);
  // Idempotent.
  void release(uint32_t address);
  // Every lease file: address and owner ("" when unreadable).
  std::vector<std::pair<uint32_t, std::string>> list() const;
  const std::string& dir() const { return dir_; }

  static std::vector<std::pair<uint32_t, std::string>> list(const std::string& dir);
  static void release(const std::string& dir, uint32_t address);

 private:
  std::string dir_;
  Ipv4Net subnet_;
  uint32_t next_ = 0;  // where the next search starts: addresses are reused as late as possible
};

}  // namespace cellblock
