/* try_syscall: which system calls does the cell's seccomp filter let through?
 *
 *     try_syscall all | native | i386 | x32 | NAME...      (one line per probe)
 *     try_syscall list                                    (the probe names, one a line)
 *     try_syscall --inline ...                            (no fork per probe; see below)
 *
 * Output, one line per probe, in the order asked (a group expands in table order):
 *
 *     SYSCALL <name> <OK | errno name | signal name>
 *
 * Like bubblewrap's tests/try-syscall.c, each probe calls the system call with arguments
 * chosen so that, if the filter lets the call through, the kernel rejects it with a
 * *distinct* errno (EFAULT for a bad pointer, EBADF for fd -1, EINVAL for an impossible flag,
 * ESRCH for a pid that cannot exist) and nothing happens: no mount, no reboot, no module, no
 * new namespace, no new process. A filter's denial shows up instead as the policy's errno
 * (EPERM, ENOSYS, EAFNOSUPPORT...), or as SIGSYS when the policy traps or kills: every probe
 * runs in its own child process, so a kill ends only that probe.
 * The errno each probe gets when allowed is in the table below ("allowed:"), as measured on
 * the build machine's kernel, as root with every capability and with none.
 *
 * Caveats a test must know (also in tests/hostile/README.md):
 *  - Some calls check a capability before looking at their arguments (reboot, kexec_load,
 *    init/finit/delete_module, acct, pivot_root, fsopen, fsmount, move_mount, sethostname,
 *    setgroups, swapoff, iopl/ioperm). In a cell without capabilities they fail with EPERM
 *    whether or not the filter allowed them; only a policy errno other than EPERM (or SIGSYS)
 *    proves the filter there.
 *  - A kernel built without a feature answers ENOSYS on its own: the build machine has no
 *    kexec, no loadable modules and no x32 ABI. ENOSYS proves nothing for those probes there.
 *  - Probes named "i386:..." enter through int $0x80, the 32-bit ABI every x86-64 kernel with
 *    IA32 emulation offers to 64-bit processes too. A filter that checks syscall numbers
 *    without checking the architecture first is bypassed this way (the numbers differ:
 *    i386 26 is ptrace, x86_64 26 is msync). "x32:..." set bit 30 (__X32_SYSCALL_BIT): same
 *    numbers as x86_64 for most calls, same AUDIT_ARCH_X86_64, so a filter must reject
 *    nr >= 0x40000000 explicitly (libseccomp does). i386:getpid and x32:getpid are controls:
 *    they say whether the ABI is reachable at all (SIGSEGV: IA32 emulation disabled).
 *  - The clone and unshare probes set one namespace flag plus a flag combination the kernel
 *    always refuses (clone: CLONE_THREAD without CLONE_SIGHAND; unshare: bit 0, which unshare
 *    does not accept), so EINVAL means "a call with this namespace flag passes the filter".
 *
 * --inline runs the probes in this process instead of a child each (for a policy that
 * forbids fork; also chosen by itself when fork fails). SIGSYS from a trapping filter and
 * SIGSEGV are caught and reported; a filter that kills the process ends the run there.
 *
 * Exit status: 0 once the probes ran, 2 for an unknown probe name or bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../hostile/hostile.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define X32_BIT 0x40000000L

/* A pointer the kernel cannot read or write: copy_from_user fails with EFAULT. */
#define BAD ((long)1)
/* A pid above PID_MAX_LIMIT (4194304): ESRCH wherever the kernel looks it up. */
#define NO_PID ((long)0x3fffffff)

/* Calls a 32-bit (i386) system call through int $0x80. Only values that fit in 32 bits may
 * be passed (our pointers are BAD or static data: the binary is static, non-PIE, below 4G).
 * Returns like syscall(): -1 with errno set on failure. */
static long i386_syscall(long nr, long a, long b, long c, long d, long e)
{
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
                     : "memory", "cc", "r8", "r9", "r10", "r11");
    int r = (int)ret; /* the kernel returns a 32-bit value to 32-bit callers */
    if (r < 0 && r > -4096) {
        errno = -r;
        return -1;
    }
    return r;
}

/* i386 numbers, from arch/x86/entry/syscalls/syscall_32.tbl. */
enum {
    I386_getpid = 20, I386_mount = 21, I386_acct = 51, I386_umount2 = 52, I386_chroot = 61,
    I386_settimeofday = 79, I386_swapon = 87, I386_reboot = 88, I386_socketcall = 102,
    I386_ptrace = 26, I386_clone = 120, I386_init_module = 128, I386_delete_module = 129,
    I386_chown32 = 212, I386_setuid32 = 213, I386_pivot_root = 217, I386_kexec_load = 283,
    I386_add_key = 286, I386_keyctl = 288, I386_unshare = 310, I386_perf_event_open = 336,
    I386_open_by_handle_at = 342, I386_setns = 346, I386_finit_module = 350, I386_bpf = 357,
    I386_socket = 359, I386_userfaultfd = 374, I386_io_uring_setup = 425, I386_clone3 = 435,
};
/* socketcall(SYS_SOCKET, args): args in memory, as 32-bit words; an impossible socket type. */
static unsigned int i386_socket_args[3] = {AF_PACKET, SOCK_RAW | 0x100, 0};

/* x32 numbers: the x86_64 ones with bit 30 set, except the calls x32 gives its own entry
 * (ptrace is 521). */
#define X32(nr) (X32_BIT | (nr))

/* ---- the probes ------------------------------------------------------------------------
 * Each returns like syscall(). "allowed:" is what the kernel answers when the filter lets
 * the call through, as root with capabilities / without (one value when both agree). */

/* Namespace flags, for the per-flag clone/unshare/clone3 probes. */
static const struct {
    const char *name;
    long flag;
} ns_flags[] = {
    {"CLONE_NEWUSER", CLONE_NEWUSER}, {"CLONE_NEWNS", CLONE_NEWNS},
    {"CLONE_NEWPID", CLONE_NEWPID},   {"CLONE_NEWNET", CLONE_NEWNET},
    {"CLONE_NEWUTS", CLONE_NEWUTS},   {"CLONE_NEWIPC", CLONE_NEWIPC},
    {"CLONE_NEWCGROUP", CLONE_NEWCGROUP}, {"CLONE_NEWTIME", CLONE_NEWTIME},
};
#define N_NS (sizeof ns_flags / sizeof ns_flags[0])

/* The argument of the probe being run (a namespace flag, a socket family). */
static long probe_arg;

/* unshare(flag | 1): bit 0 is never valid for unshare. allowed: EINVAL */
static long p_unshare(void) { return syscall(SYS_unshare, probe_arg | 1); }
/* clone(flag | CLONE_THREAD) without CLONE_SIGHAND. allowed: EINVAL. No CLONE_NEWTIME here:
 * 0x80 is inside the exit-signal byte of clone(); only clone3 and unshare take it. */
static long p_clone(void) { return syscall(SYS_clone, probe_arg | CLONE_THREAD, 0L, 0L, 0L, 0L); }
/* clone3 with the same impossible flags, from a real struct. allowed: EINVAL */
static long p_clone3_ns(void)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)(probe_arg | CLONE_THREAD);
    return syscall(SYS_clone3, &args, sizeof args);
}
/* socket(family, impossible type bits): the type flags are checked before the family.
 * allowed: EINVAL */
static long p_socket(void) { return syscall(SYS_socket, probe_arg, SOCK_STREAM | 0x100, 0); }

static long p_getpid(void) { return syscall(SYS_getpid); }                  /* control: OK */
static long p_mount(void) { return syscall(SYS_mount, BAD, BAD, BAD, 0L, BAD); } /* EFAULT */
static long p_umount2(void) { return syscall(SYS_umount2, BAD, 0L); }       /* EFAULT */
static long p_pivot_root(void) { return syscall(SYS_pivot_root, BAD, BAD); } /* EFAULT / EPERM */
static long p_chroot(void) { return syscall(SYS_chroot, BAD); }             /* EFAULT */
static long p_setns(void) { return syscall(SYS_setns, -1L, 0L); }           /* EBADF */
static long p_clone3(void) { return syscall(SYS_clone3, BAD, 88L); }        /* EFAULT */
static long p_keyctl(void) { return syscall(SYS_keyctl, 0x7fffffffL, 0L, 0L, 0L, 0L); } /* EOPNOTSUPP */
static long p_add_key(void) { return syscall(SYS_add_key, BAD, BAD, BAD, 0L, 0L); } /* EFAULT */
static long p_request_key(void) { return syscall(SYS_request_key, BAD, BAD, BAD, 0L); } /* EFAULT */
static long p_bpf(void) { return syscall(SYS_bpf, 0x7fffL, BAD, 16L); }     /* EFAULT */
static long p_perf_event_open(void) { return syscall(SYS_perf_event_open, BAD, 0L, -1L, -1L, 0L); } /* EFAULT */
/* UFFD_USER_MODE_ONLY (1) passes the unprivileged_userfaultfd check; bit 1 is invalid. */
static long p_userfaultfd(void) { return syscall(SYS_userfaultfd, 1L | 2L); } /* EINVAL */
static long p_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 1L, BAD); } /* EFAULT */
static long p_io_uring_enter(void) { return syscall(SYS_io_uring_enter, -1L, 0L, 0L, 0L, 0L, 0L); } /* EBADF */
/* fd -1 is "blind" registration since 6.x; opcode 0 is not one of those. allowed: EINVAL */
static long p_io_uring_register(void) { return syscall(SYS_io_uring_register, -1L, 0L, 0L, 0L); }
/* Bit 15 is not a kexec flag and 17 segments is above KEXEC_SEGMENT_MAX: never 0 segments,
 * which would unload a loaded kernel. allowed: EINVAL / EPERM; ENOSYS without CONFIG_KEXEC */
static long p_kexec_load(void) { return syscall(SYS_kexec_load, 0L, 17L, BAD, 0x8000L); }
static long p_kexec_file_load(void) { return syscall(SYS_kexec_file_load, -1L, -1L, 0L, BAD, 0x8000L); }
/* Length 0 is shorter than an ELF header. allowed: ENOEXEC / EPERM; ENOSYS without modules */
static long p_init_module(void) { return syscall(SYS_init_module, BAD, 0L, BAD); }
static long p_finit_module(void) { return syscall(SYS_finit_module, -1L, BAD, 0L); } /* EBADF / EPERM */
static long p_delete_module(void) { return syscall(SYS_delete_module, BAD, 0L); } /* EFAULT / EPERM */
/* Wrong magic numbers: the kernel refuses before doing anything. allowed: EINVAL / EPERM */
static long p_reboot(void) { return syscall(SYS_reboot, 0L, 0L, 0L, 0L); }
static long p_swapon(void) { return syscall(SYS_swapon, BAD, -1L); }        /* EINVAL (flags first) */
static long p_swapoff(void) { return syscall(SYS_swapoff, BAD); }           /* EFAULT / EPERM */
/* Never NULL: acct(NULL) switches accounting off. allowed: EFAULT / EPERM */
static long p_acct(void) { return syscall(SYS_acct, BAD); }
static long p_clock_settime(void) { return syscall(SYS_clock_settime, 0L, BAD); } /* EFAULT */
static long p_clock_adjtime(void) { return syscall(SYS_clock_adjtime, 0L, BAD); } /* EFAULT */
/* Never NULL, NULL: that is a successful no-op. allowed: EFAULT */
static long p_settimeofday(void) { return syscall(SYS_settimeofday, BAD, 0L); }
static long p_adjtimex(void) { return syscall(SYS_adjtimex, BAD); }         /* EFAULT */
static long p_name_to_handle_at(void) { return syscall(SYS_name_to_handle_at, AT_FDCWD, BAD, BAD, BAD, 0L); } /* EFAULT */
static long p_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1L, BAD, 0L); } /* EFAULT or EBADF; EPERM on older kernels */
static long p_ptrace(void) { return syscall(SYS_ptrace, (long)PTRACE_ATTACH, NO_PID, 0L, 0L); } /* ESRCH */
static long p_process_vm_readv(void) { return syscall(SYS_process_vm_readv, NO_PID, 0L, 0L, 0L, 0L, 1L); } /* EINVAL (flags) */
static long p_process_vm_writev(void) { return syscall(SYS_process_vm_writev, NO_PID, 0L, 0L, 0L, 0L, 1L); } /* EINVAL */
static long p_kcmp(void) { return syscall(SYS_kcmp, NO_PID, NO_PID, 0L, 0L, 0L); } /* ESRCH */
static long p_pidfd_getfd(void) { return syscall(SYS_pidfd_getfd, -1L, 0L, 0L); } /* EBADF */
static long p_chown(void) { return syscall(SYS_chown, BAD, 0L, 0L); }       /* EFAULT */
static long p_fchown(void) { return syscall(SYS_fchown, -1L, 0L, 0L); }     /* EBADF */
static long p_fchownat(void) { return syscall(SYS_fchownat, -1L, BAD, 0L, 0L, 0L); } /* EFAULT */
static long p_lchown(void) { return syscall(SYS_lchown, BAD, 0L, 0L); }     /* EFAULT */
/* uid -1 is invalid before any permission check. allowed: EINVAL */
static long p_setuid(void) { return syscall(SYS_setuid, -1L); }
static long p_setgid(void) { return syscall(SYS_setgid, -1L); }
static long p_setgroups(void) { return syscall(SYS_setgroups, -1L, BAD); }  /* EINVAL / EPERM */
static long p_mknod(void) { return syscall(SYS_mknod, BAD, 0020000L, 0L); }  /* EFAULT */
static long p_ioctl_tiocsti(void) { return syscall(SYS_ioctl, -1L, (long)TIOCSTI, BAD); } /* EBADF */
/* CVE-2019-10063: ioctl's request is an int to the kernel, so a filter comparing all 64 bits
 * of it is bypassed by garbage in the upper half. allowed: EBADF */
static long p_ioctl_tiocsti_high(void) { return syscall(SYS_ioctl, -1L, (long)((0x123UL << 32) | TIOCSTI), BAD); }
static long p_ioctl_tioclinux(void) { return syscall(SYS_ioctl, -1L, (long)TIOCLINUX, BAD); } /* EBADF */
/* ENOSYS on their own without CONFIG_X86_IOPL_IOPERM (the build machine). */
static long p_iopl(void) { return syscall(SYS_iopl, 4L); }                  /* EINVAL (level > 3) */
static long p_ioperm(void) { return syscall(SYS_ioperm, 65536L, 1L, 1L); }  /* EINVAL (out of range) */
/* modify_ldt returns an int zero-extended to 64 bits (a kernel ABI quirk), so -EINVAL
 * arrives as a large positive number that syscall() takes for success. allowed: EINVAL.
 * A seccomp errno, though, is a full-width -errno: syscall() has already returned -1 with
 * errno set, and reading that -1 as an int would turn every denial into EPERM. */
static long p_modify_ldt(void)
{
    errno = 0;
    long raw = syscall(SYS_modify_ldt, 1L, BAD, 1L);
    if (raw == -1 && errno != 0)
        return -1;
    int rc = (int)raw;
    if (rc < 0 && rc > -4096) {
        errno = -rc;
        return -1;
    }
    return rc;
}
static long p_fsopen(void) { return syscall(SYS_fsopen, BAD, 0L); }         /* EFAULT / EPERM */
static long p_fsmount(void) { return syscall(SYS_fsmount, -1L, 0L, 0L); }   /* EBADF / EPERM */
static long p_fspick(void) { return syscall(SYS_fspick, -1L, BAD, 0L); }    /* EFAULT / EPERM */
static long p_open_tree(void) { return syscall(SYS_open_tree, -1L, BAD, -1L); } /* EINVAL (flags) */
static long p_move_mount(void) { return syscall(SYS_move_mount, -1L, BAD, -1L, BAD, -1L); } /* EINVAL / EPERM */
static long p_mount_setattr(void) { return syscall(SYS_mount_setattr, -1L, BAD, -1L, BAD, 0L); } /* EINVAL (flags) */
static long p_sethostname(void) { return syscall(SYS_sethostname, BAD, -1L); } /* EINVAL / EPERM */
static long p_setdomainname(void) { return syscall(SYS_setdomainname, BAD, -1L); } /* EINVAL / EPERM */

/* 32-bit entry (int $0x80), same arguments as the native probes. */
static long i_getpid(void) { return i386_syscall(I386_getpid, 0, 0, 0, 0, 0); }
static long i_mount(void) { return i386_syscall(I386_mount, BAD, BAD, BAD, 0, BAD); }
static long i_umount2(void) { return i386_syscall(I386_umount2, BAD, 0, 0, 0, 0); }
static long i_chroot(void) { return i386_syscall(I386_chroot, BAD, 0, 0, 0, 0); }
static long i_pivot_root(void) { return i386_syscall(I386_pivot_root, BAD, BAD, 0, 0, 0); }
static long i_unshare(void) { return i386_syscall(I386_unshare, CLONE_NEWUSER | 1, 0, 0, 0, 0); }
static long i_clone(void) { return i386_syscall(I386_clone, CLONE_NEWUSER | CLONE_THREAD, 0, 0, 0, 0); }
static long i_clone3(void) { return i386_syscall(I386_clone3, BAD, 88, 0, 0, 0); }
static long i_setns(void) { return i386_syscall(I386_setns, -1, 0, 0, 0, 0); }
static long i_keyctl(void) { return i386_syscall(I386_keyctl, 0x7fffffff, 0, 0, 0, 0); }
static long i_add_key(void) { return i386_syscall(I386_add_key, BAD, BAD, BAD, 0, 0); }
static long i_bpf(void) { return i386_syscall(I386_bpf, 0x7fff, BAD, 16, 0, 0); }
static long i_perf_event_open(void) { return i386_syscall(I386_perf_event_open, BAD, 0, -1, -1, 0); }
static long i_userfaultfd(void) { return i386_syscall(I386_userfaultfd, 1 | 2, 0, 0, 0, 0); }
static long i_io_uring_setup(void) { return i386_syscall(I386_io_uring_setup, 1, BAD, 0, 0, 0); }
static long i_kexec_load(void) { return i386_syscall(I386_kexec_load, 0, 17, BAD, 0x8000, 0); }
static long i_init_module(void) { return i386_syscall(I386_init_module, BAD, 0, BAD, 0, 0); }
static long i_finit_module(void) { return i386_syscall(I386_finit_module, -1, BAD, 0, 0, 0); }
static long i_delete_module(void) { return i386_syscall(I386_delete_module, BAD, 0, 0, 0, 0); }
static long i_reboot(void) { return i386_syscall(I386_reboot, 0, 0, 0, 0, 0); }
static long i_swapon(void) { return i386_syscall(I386_swapon, BAD, -1, 0, 0, 0); }
static long i_acct(void) { return i386_syscall(I386_acct, BAD, 0, 0, 0, 0); }
static long i_settimeofday(void) { return i386_syscall(I386_settimeofday, BAD, 0, 0, 0, 0); }
static long i_open_by_handle_at(void) { return i386_syscall(I386_open_by_handle_at, -1, BAD, 0, 0, 0); }
static long i_ptrace(void) { return i386_syscall(I386_ptrace, PTRACE_ATTACH, NO_PID, 0, 0, 0); }
static long i_socketcall(void) { return i386_syscall(I386_socketcall, 1 /* SYS_SOCKET */, (long)(uintptr_t)i386_socket_args, 0, 0, 0); }
static long i_socket(void) { return i386_syscall(I386_socket, AF_PACKET, SOCK_RAW | 0x100, 0, 0, 0); }
static long i_setuid32(void) { return i386_syscall(I386_setuid32, -1, 0, 0, 0, 0); }
static long i_chown32(void) { return i386_syscall(I386_chown32, BAD, 0, 0, 0, 0); }

/* x32 entry: syscall() with bit 30 set. ENOSYS everywhere on kernels without CONFIG_X86_X32_ABI. */
static long x_getpid(void) { return syscall(X32(SYS_getpid)); }
static long x_mount(void) { return syscall(X32(SYS_mount), BAD, BAD, BAD, 0L, BAD); }
static long x_umount2(void) { return syscall(X32(SYS_umount2), BAD, 0L); }
static long x_chroot(void) { return syscall(X32(SYS_chroot), BAD); }
static long x_pivot_root(void) { return syscall(X32(SYS_pivot_root), BAD, BAD); }
static long x_unshare(void) { return syscall(X32(SYS_unshare), (long)CLONE_NEWUSER | 1L); }
static long x_clone(void) { return syscall(X32(SYS_clone), (long)(CLONE_NEWUSER | CLONE_THREAD), 0L, 0L, 0L, 0L); }
static long x_setns(void) { return syscall(X32(SYS_setns), -1L, 0L); }
static long x_keyctl(void) { return syscall(X32(SYS_keyctl), 0x7fffffffL, 0L, 0L, 0L, 0L); }
static long x_bpf(void) { return syscall(X32(SYS_bpf), 0x7fffL, BAD, 16L); }
static long x_perf_event_open(void) { return syscall(X32(SYS_perf_event_open), BAD, 0L, -1L, -1L, 0L); }
static long x_open_by_handle_at(void) { return syscall(X32(SYS_open_by_handle_at), -1L, BAD, 0L); }
static long x_ptrace(void) { return syscall(X32(521), (long)PTRACE_ATTACH, NO_PID, 0L, 0L); }
static long x_socket(void) { return syscall(X32(SYS_socket), (long)AF_PACKET, (long)(SOCK_RAW | 0x100), 0L); }
static long x_reboot(void) { return syscall(X32(SYS_reboot), 0L, 0L, 0L, 0L); }
static long x_init_module(void) { return syscall(X32(SYS_init_module), BAD, 0L, BAD); }

/* ---- the table -------------------------------------------------------------------------- */

enum group { NATIVE, I386, X32 };

struct probe {
    char name[48];
    long (*fn)(void);
    long arg;
    enum group group;
};

static struct probe probes[256];
static size_t nprobes;

static void add(const char *name, long (*fn)(void), long arg, enum group group)
{
    struct probe *p = &probes[nprobes++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->fn = fn;
    p->arg = arg;
    p->group = group;
}

static void build_table(void)
{
    char name[48];
#define N(x) add(#x, p_##x, 0, NATIVE)
    N(getpid);
    N(mount); N(umount2); N(pivot_root); N(chroot);
    for (size_t i = 0; i < N_NS; i++) {
        snprintf(name, sizeof name, "unshare:%s", ns_flags[i].name);
        add(name, p_unshare, ns_flags[i].flag, NATIVE);
    }
    add("clone", p_clone, 0, NATIVE);
    for (size_t i = 0; i < N_NS; i++) {
        if (ns_flags[i].flag == CLONE_NEWTIME)
            continue;
        snprintf(name, sizeof name, "clone:%s", ns_flags[i].name);
        add(name, p_clone, ns_flags[i].flag, NATIVE);
    }
    N(clone3);
    add("clone3:CLONE_NEWUSER", p_clone3_ns, CLONE_NEWUSER, NATIVE);
    N(setns);
    N(keyctl); N(add_key); N(request_key);
    N(bpf); N(perf_event_open); N(userfaultfd);
    N(io_uring_setup); N(io_uring_enter); N(io_uring_register);
    N(kexec_load); N(kexec_file_load); N(init_module); N(finit_module); N(delete_module);
    N(reboot); N(swapon); N(swapoff); N(acct);
    N(clock_settime); N(clock_adjtime); N(settimeofday); N(adjtimex);
    N(name_to_handle_at); N(open_by_handle_at);
    N(ptrace); N(process_vm_readv); N(process_vm_writev); N(kcmp); N(pidfd_getfd);
    N(chown); N(fchown); N(fchownat); N(lchown); N(setuid); N(setgid); N(setgroups); N(mknod);
    N(sethostname); N(setdomainname);
    N(fsopen); N(fsmount); N(fspick); N(open_tree); N(move_mount); N(mount_setattr);
    add("ioctl:TIOCSTI", p_ioctl_tiocsti, 0, NATIVE);
    add("ioctl:TIOCSTI_high_bits", p_ioctl_tiocsti_high, 0, NATIVE);
    add("ioctl:TIOCLINUX", p_ioctl_tioclinux, 0, NATIVE);
    N(iopl); N(ioperm); N(modify_ldt);
#undef N
    static const struct {
        const char *name;
        long family;
    } families[] = {
        {"AF_UNIX", AF_UNIX},       {"AF_INET", AF_INET},           {"AF_INET6", AF_INET6},
        {"AF_NETLINK", AF_NETLINK}, {"AF_PACKET", AF_PACKET},       {"AF_KEY", AF_KEY},
        {"AF_ALG", AF_ALG},         {"AF_VSOCK", AF_VSOCK},         {"AF_BLUETOOTH", AF_BLUETOOTH},
        {"AF_TIPC", AF_TIPC},       {"AF_RDS", AF_RDS},             {"AF_CAN", AF_CAN},
        {"AF_XDP", AF_XDP},         {"AF_APPLETALK", AF_APPLETALK}, {"AF_X25", AF_X25},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        snprintf(name, sizeof name, "socket:%s", families[i].name);
        add(name, p_socket, families[i].family, NATIVE);
    }
#define I(x) add("i386:" #x, i_##x, 0, I386)
    I(getpid); I(mount); I(umount2); I(chroot); I(pivot_root); I(unshare); I(clone); I(clone3);
    I(setns); I(keyctl); I(add_key); I(bpf); I(perf_event_open); I(userfaultfd);
    I(io_uring_setup); I(kexec_load); I(init_module); I(finit_module); I(delete_module);
    I(reboot); I(swapon); I(acct); I(settimeofday); I(open_by_handle_at); I(ptrace);
    I(socketcall); I(socket); I(setuid32); I(chown32);
#undef I
#define X(x) add("x32:" #x, x_##x, 0, X32)
    X(getpid); X(mount); X(umount2); X(chroot); X(pivot_root); X(unshare); X(clone); X(setns);
    X(keyctl); X(bpf); X(perf_event_open); X(open_by_handle_at); X(ptrace); X(socket);
    X(reboot); X(init_module);
#undef X
}

/* ---- running them ----------------------------------------------------------------------- */

static sigjmp_buf inline_jump;
static volatile sig_atomic_t inline_signal;

static void on_inline_signal(int sig)
{
    inline_signal = sig;
    siglongjmp(inline_jump, 1);
}

/* The outcome word: "OK", an errno name or a signal name. */
static const char *run_inline(const struct probe *p)
{
    struct sigaction sa, old_sys, old_segv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_inline_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSYS, &sa, &old_sys);
    sigaction(SIGSEGV, &sa, &old_segv);
    const char *outcome;
    if (sigsetjmp(inline_jump, 1) == 0) {
        probe_arg = p->arg;
        errno = 0;
        long rc = p->fn();
        outcome = rc < 0 ? errno_name(errno) : "OK";
        if (rc >= 0 && rc > 2 && rc < 65536 && p->fn != p_getpid && p->fn != i_getpid &&
            p->fn != x_getpid)
            close((int)rc); /* an allowed call that returned an fd */
    } else {
        outcome = signal_name(inline_signal);
    }
    sigaction(SIGSYS, &old_sys, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    return outcome;
}

/* Runs the probe in a child: exit status 0 = OK, else the errno; a signal is reported by
 * name. Returns NULL if fork itself failed (fork_errno is set). */
static int fork_errno;
static const char *run_forked(const struct probe *p)
{
    pid_t pid = fork();
    if (pid < 0) {
        fork_errno = errno;
        return NULL;
    }
    if (pid == 0) {
        probe_arg = p->arg;
        errno = 0;
        long rc = p->fn();
        _exit(rc < 0 ? (errno & 0xff) : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return errno_name(errno);
    }
    if (WIFSIGNALED(status))
        return signal_name(WTERMSIG(status));
    return WEXITSTATUS(status) == 0 ? "OK" : errno_name(WEXITSTATUS(status));
}

static int selected(const struct probe *p, const char *a)
{
    return strcmp(a, "all") == 0 || strcmp(a, p->name) == 0 ||
           (strcmp(a, "native") == 0 && p->group == NATIVE) ||
           (strcmp(a, "i386") == 0 && p->group == I386) ||
           (strcmp(a, "x32") == 0 && p->group == X32);
}

int main(int argc, char **argv)
{
    const char *use = "try_syscall [--inline] all|native|i386|x32|list|NAME...";
    build_table();
    int first = 1, force_inline = 0;
    if (argc > 1 && strcmp(argv[1], "--inline") == 0) {
        force_inline = 1;
        first = 2;
    }
    if (argc <= first)
        usage(use);
    if (argc == first + 1 && strcmp(argv[first], "list") == 0) {
        for (size_t i = 0; i < nprobes; i++)
            printf("%s\n", probes[i].name);
        return 0;
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int known = strcmp(a, "all") == 0 || strcmp(a, "native") == 0 ||
                    strcmp(a, "i386") == 0 || strcmp(a, "x32") == 0;
        for (size_t j = 0; j < nprobes && !known; j++)
            known = strcmp(a, probes[j].name) == 0;
        if (!known) {
            note("try_syscall", "unknown probe \"%s\" (try_syscall list shows them)", a);
            usage(use);
        }
    }

    /* In the order asked; a group word (all, native, i386, x32) expands in table order. */
    int use_inline = force_inline;
    for (int a = first; a < argc; a++) {
        for (size_t i = 0; i < nprobes; i++) {
            if (!selected(&probes[i], argv[a]))
                continue;
            const char *outcome = NULL;
            if (!use_inline) {
                outcome = run_forked(&probes[i]);
                if (!outcome) {
                    note("try_syscall", "fork: %s; running the remaining probes inline",
                         errno_name(fork_errno));
                    use_inline = 1;
                }
            }
            if (!outcome)
                outcome = run_inline(&probes[i]);
            char line[128];
            int n = snprintf(line, sizeof line, "SYSCALL %s %s\n", probes[i].name, outcome);
            write_all(STDOUT_FILENO, line, (size_t)n);
        }
    }
    return 0;
}
