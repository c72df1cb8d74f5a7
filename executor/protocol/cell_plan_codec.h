// The cell's plan crosses from the supervisor to the cell's init (a separate, small executable:
// see cell_image.h) as one flat byte string in a memfd. Encoding is plain length-prefixed
// fields; both ends are built from the same source, so there is no versioning.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "executor/protocol/cell_fds.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// Everything the init needs: the plan, the descriptor numbers it inherits, and whether it must
// make its own cgroup namespace (v1; on v2 clone3 made it).
struct CellPlan {
  LaunchPlan plan;
  CellFds fds;
  bool unshare_cgroup_ns = true;
  bool loopback_up = false;  // the network namespace came from the pool, loopback already up
};

std::string encode_cell_plan(const LaunchPlan& plan, const CellFds& fds, bool unshare_cgroup_ns, bool loopback_up);
// Throws std::runtime_error on a truncated or malformed buffer.
CellPlan decode_cell_plan(std::string_view bytes);

}  // namespace cellblock
