// A failed step inside the cell's child processes: which step, with what arguments, and errno.
// Filled without allocating; sent to the supervisor as a CellReport.
#pragma once

#include <cerrno>

#include "executor/cell/child_text.h"

namespace cellblock {

struct ChildError {
  char what[400] = {0};
  int err = 0;

  // Records the current errno for a step described by the builder `describe(ChildText&)`.
  template <typename Describe>
  bool fail(Describe&& describe) noexcept {
    err = errno;
    ChildText t(what, sizeof what);
    describe(t);
    return false;
  }
};

}  // namespace cellblock
