/* ptrace_pid1: take control of, or look inside, the cell's PID 1 (cellblock's init).
 *
 * Attacks: init is the one process in the cell that keeps privileges (capabilities, maybe
 * fds or a working directory on the host while it sets the cell up). A command that can
 * ptrace it, read its memory, steal its fds or follow its cwd/root links inherits all that.
 * Every one of these needs ptrace access to init: the kernel refuses it when init holds
 * capabilities the command lacks (cap_ptrace_access_check), when init is not dumpable
 * (prctl(PR_SET_DUMPABLE, 0)), or by Yama; a seccomp policy may also deny ptrace itself.
 *
 * Tries, each on its own line:
 *   ptrace_attach_pid1     ptrace(PTRACE_ATTACH, 1); detached again at once if it worked.
 *   ptrace_attach_parent   the same on our parent, when it is not PID 1.
 *   proc1_mem              open("/proc/1/mem") for reading.
 *   proc1_environ          read init's environment (may hold the supervisor's secrets).
 *   process_vm_readv_pid1  read init's memory with process_vm_readv (its first mapping,
 *                          from /proc/1/maps when readable); EFAULT also means access.
 *   pidfd_getfd_pid1       pidfd_open(1) + pidfd_getfd() on init's fds 0..63.
 *   proc1_root, proc1_cwd  follow init's root and working directory, walk ".." to the top
 *                          and compare it with our "/": a different top is a way out of the
 *                          cell (CVE-2024-21626 was a working directory left on the host).
 *
 * Expected in a cell: every line EPERM or EACCES (ENOSYS/EPERM from seccomp for ptrace,
 * process_vm_readv, pidfd_getfd), proc1_root/proc1_cwd EACCES or SAME, never OK/OUTSIDE.
 * It refuses to run in the host's initial pid namespace (PID 1 there is the host's init)
 * unless given --force; on a host run it under `unshare -fp --mount-proc`.
 *
 * Output: RESULT <name> OK|<errno> [detail]
 *         RESULT proc1_root|proc1_cwd SAME|OUTSIDE|<errno> top=<maj:min:ino> our_root=<...>
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void try_attach(const char *name, pid_t pid)
{
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0) {
        result(name, errno_name(errno), "pid=%d", (int)pid);
        return;
    }
    int status;
    waitpid(pid, &status, __WALL); /* the attach stop */
    int detach = ptrace(PTRACE_DETACH, pid, NULL, NULL) == 0 ? 0 : errno;
    result(name, "OK", "pid=%d detached=%s", (int)pid, errno_name(detach));
}

/* Opens path as a directory and walks ".." until it stops moving; compares that top with
 * our own root. */
static void follow_dir(const char *name, const char *path)
{
    struct stat root, cur, up;
    stat("/", &root);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        result(name, errno_name(errno), "path=%s", path);
        return;
    }
    for (int i = 0; i < 4096; i++) {
        if (fstat(fd, &cur) < 0)
            break;
        int ufd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd < 0)
            break;
        if (fstat(ufd, &up) < 0 || (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino)) {
            close(ufd);
            break;
        }
        close(fd);
        fd = ufd;
    }
    fstat(fd, &cur);
    close(fd);
    int same = cur.st_dev == root.st_dev && cur.st_ino == root.st_ino;
    result(name, same ? "SAME" : "OUTSIDE", "path=%s top=%u:%u:%lu our_root=%u:%u:%lu", path,
           major(cur.st_dev), minor(cur.st_dev), (unsigned long)cur.st_ino,
           major(root.st_dev), minor(root.st_dev), (unsigned long)root.st_ino);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--force") != 0))
        usage("ptrace_pid1 [--force]   (refuses the host's pid namespace without --force)");
    refuse_on_host("ptrace_pid1", argc, argv, "pid");

    try_attach("ptrace_attach_pid1", 1);
    pid_t parent = getppid();
    if (parent > 1)
        try_attach("ptrace_attach_parent", parent);

    int fd = open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
    result_bare("proc1_mem", errno_name(fd < 0 ? errno : 0));
    if (fd >= 0)
        close(fd);

    fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result_bare("proc1_environ", errno_name(errno));
    } else {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        result_errno("proc1_environ", n < 0 ? errno : 0, "bytes=%zd", n);
        close(fd);
    }

    /* Read init's first mapping if /proc/1/maps tells us where it is. Without access the
     * call fails before it looks at the address (EPERM); EFAULT means access was granted
     * but the guessed address is not mapped. */
    unsigned long addr = 0x400000;
    FILE *maps = fopen("/proc/1/maps", "re");
    if (maps) {
        if (fscanf(maps, "%lx", &addr) != 1)
            addr = 0x400000;
        fclose(maps);
    }
    static char local_buf[64];
    struct iovec local = {local_buf, sizeof local_buf};
    struct iovec remote = {(void *)addr, sizeof local_buf};
    ssize_t got = process_vm_readv(1, &local, 1, &remote, 1, 0);
    result_errno("process_vm_readv_pid1", got < 0 ? errno : 0, "bytes=%zd", got);

    int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
    if (pidfd < 0) {
        result("pidfd_getfd_pid1", errno_name(errno), "step=pidfd_open");
    } else {
        int stolen = 0, last_err = 0;
        for (int target = 0; target < 64; target++) {
            int got_fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
            if (got_fd >= 0) {
                stolen++;
                close(got_fd);
            } else if (errno != EBADF) {
                last_err = errno; /* EBADF: init has no such fd, not a refusal */
            }
        }
        if (stolen)
            result("pidfd_getfd_pid1", "OK", "stolen=%d", stolen);
        else
            result("pidfd_getfd_pid1", last_err ? errno_name(last_err) : "EBADF", "stolen=0");
    }

    follow_dir("proc1_root", "/proc/1/root");
    follow_dir("proc1_cwd", "/proc/1/cwd");
    return 0;
}
