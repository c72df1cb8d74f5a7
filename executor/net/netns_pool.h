// Fresh network namespaces made ahead of demand by a background thread, each with its loopback
// already up, each handed to exactly one cell and never reused. Creating a network namespace
// costs about half a millisecond (devices, sysctl tables, per-net subsystems); the pool takes
// that off the launch path. Destroying one is asynchronous in the kernel already.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "executor/base/unique_fd.h"

namespace cellblock {

class NetnsPool {
 public:
  // Keeps `ready` namespaces waiting. 0 disables the pool: take() always comes back empty.
  explicit NetnsPool(size_t ready);
  ~NetnsPool();
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

  // A fresh namespace (an O_CLOEXEC fd of /proc/thread-self/ns/net), or an invalid fd when none
  // is ready: the caller then makes one at clone time (CLONE_NEWNET).
  UniqueFd take();
  size_t ready() const;

 private:
  void fill();  // the background thread
  UniqueFd make_one();

  const size_t target_;
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<UniqueFd> ready_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cellblock
