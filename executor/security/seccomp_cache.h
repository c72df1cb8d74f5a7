// Compiled seccomp programs kept on disk between processes. libseccomp takes milliseconds to
// compile a policy for three architectures (13 ms for default here), which a resident queue pays
// once but `cellblock run`, a process per job, paid on every job. The program is stored under
// the state directory (root's, 0700) with the exact text it was compiled from: the profile's
// every rule, libseccomp's version, the boot (the architectures it covers follow from the
// running kernel, so a hit needs no probe of it), and the identity of this executable (so a
// rebuilt cellblock never uses a program an older build made). A file whose text differs, or
// that is not a regular file of ours, is ignored and rewritten. Best effort: a cache that cannot
// be read or written only costs the compile.
#pragma once

#include <filesystem>

#include "executor/security/policy.h"
#include "executor/security/seccomp.h"

namespace cellblock {

// The text a program is compiled from, as stored beside it.
std::string seccomp_cache_key(const SeccompProfile& profile);

// compile_seccomp(profile), from `dir` when it holds the program for exactly this profile;
// otherwise compiled and stored there. Validation errors are thrown as compile_seccomp does.
SeccompProgram compile_seccomp_cached(const SeccompProfile& profile, const std::filesystem::path& dir);

}  // namespace cellblock
