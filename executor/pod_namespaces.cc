#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "executor/base/sys_error.h"
#include "executor/cell/child_error.h"
#include "executor/cell/net_apply.h"
#include "executor/pod.h"

namespace cellblock {
namespace {

// Namespaces belong to a task, not a process: the work runs on a thread of its own, which moves
// into the namespace and ends there, so no thread of the supervisor ever has to move back.
template <typename Work>
void on_own_thread(Work&& work) {
  std::exception_ptr failed;
  std::thread t([&] {
    try {
      work();
    } catch (...) {
      failed = std::current_exception();
    }
  });
  t.join();
  if (failed) std::rethrow_exception(failed);
}

UniqueFd open_ns(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys(std::string("open(\"") + path + "\")");
  return fd;
}

bool connects(uint16_t port) {
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_sys("socket(AF_INET, SOCK_STREAM) for a ready check");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // On loopback a connect is answered at once: accepted, or refused while nothing listens.
  return ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

PodNamespaces make_pod_namespaces() {
  PodNamespaces ns;
  on_own_thread([&] {
    if (::unshare(CLONE_NEWNET | CLONE_NEWIPC) != 0) throw_sys("unshare(CLONE_NEWNET|CLONE_NEWIPC) for a pod");
    ns.net = open_ns("/proc/thread-self/ns/net");
    ns.ipc = open_ns("/proc/thread-self/ns/ipc");
    ChildError e;
    if (!bring_up_loopback(e)) throw SysError(e.err, e.what);
  });
  return ns;
}

Readiness wait_until_ready(int netns, uint16_t port, std::chrono::steady_clock::time_point deadline,
                           const std::function<bool()>& give_up) {
  Readiness answer = Readiness::timed_out;
  on_own_thread([&] {
    if (::setns(netns, CLONE_NEWNET) != 0) throw_sys("setns to the pod's network namespace for a ready check");
    for (;;) {
      if (connects(port)) {
        answer = Readiness::ready;
        return;
      }
      if (give_up()) {
        answer = Readiness::gave_up;
        return;
      }
      if (std::chrono::steady_clock::now() >= deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  return answer;
}

}  // namespace cellblock
