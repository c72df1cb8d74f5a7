// Which system-call ABIs besides the native one the running kernel accepts from a process, found
// by trying them once per process. The seccomp filter gets a section for each ABI the kernel can
// run and none for the others (executor/security/seccomp.h): each section costs every cell its
// share of the filter's load (the kernel checks, converts and JIT-compiles the whole program and
// runs it once per syscall number for its allow-cache), and a section for an ABI the kernel
// refuses guards nothing.
//
// Machines of one kind differ here: a kernel may be built with IA32 emulation yet boot with it
// off (`int $0x80` then faults), and Debian's kernels have the x32 ABI compiled in but off unless
// booted with syscall.x32=y. Neither can change while the system runs, so one probe per process
// holds for every cell it starts.
#pragma once

namespace cellblock {

struct KernelAbis {
  bool i386 = true;  // `int $0x80` system calls from a 64-bit process (IA32 emulation)
  bool x32 = true;   // x86_64 system calls with __X32_SYSCALL_BIT set in the number
};

// Probed on first use, in a vfork child (an ABI the kernel lacks may kill the caller: IA32
// emulation off raises SIGSEGV, and a seccomp filter the operator put on cellblock itself may
// kill an x32 call). Whatever the probe cannot tell counts as accepted, so a filter never lacks a
// section for an ABI the kernel may run. Both false on architectures other than x86_64.
const KernelAbis& kernel_abis();
// Whether this process has probed yet (kernel_abis() called). For tests: a cached seccomp
// program (seccomp_cache.h) must not need the probe.
bool kernel_abis_probed();

}  // namespace cellblock
