#include "executor/time_namespace.h"

#include <unistd.h>

#include "executor/plan.h"

namespace cellblock {

bool kernel_has_time_namespaces() {
  // Asked once: the answer is the kernel's and cannot change while we run.
  static const bool has = ::access("/proc/self/ns/time", F_OK) == 0;
  return has;
}

void require_time_namespaces() {
  if (!kernel_has_time_namespaces())
    throw SetupError("time_namespace true: this kernel has no time namespaces (/proc/self/ns/time is missing; "
                     "they need Linux 5.6 or later built with CONFIG_TIME_NS)");
}

}  // namespace cellblock
