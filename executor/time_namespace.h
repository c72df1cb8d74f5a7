// The host half of "time_namespace" (the cell half: cell/time_apply.h): whether this kernel has
// time namespaces at all (CLONE_NEWTIME, Linux 5.6+, CONFIG_TIME_NS), found by trying, not by
// the version number.
#pragma once

namespace cellblock {

// True when /proc/self/ns/time exists: the kernel knows time namespaces.
bool kernel_has_time_namespaces();

// Throws SetupError naming the "time_namespace" field when the kernel lacks them.
void require_time_namespaces();

}  // namespace cellblock
