/* proc_self_exe: overwrite a binary through /proc/<pid>/exe (CVE-2019-5736).
 *
 * Attacks: /proc/<pid>/exe opens the very file a process was executed from, wherever it lives,
 * even outside the cell's root. In CVE-2019-5736 a container process opened runc's binary
 * through /proc/<runc pid>/exe (first with O_PATH, then reopening /proc/self/fd/N for writing
 * once runc had exec'd) and overwrote the host's runc. Here the interesting process is the
 * cell's PID 1: if cellblock's init is a clone of the supervisor that never exec'd, its exe is
 * the host's cellblock binary. Access to another process's exe link needs ptrace read access
 * to it (an init that keeps capabilities the command dropped, or that made itself
 * non-dumpable, is out of reach), and writing a running executable fails with ETXTBSY.
 *
 * Tries, each on its own line:
 *   proc_self_exe_write   open("/proc/self/exe", O_WRONLY|O_TRUNC): our own binary; /t is a
 *                         read-only bind, so EROFS (or ETXTBSY: it is running).
 *   proc1_exe_link        readlink("/proc/1/exe"): does the cell learn a host path?
 *   proc1_exe_read        open("/proc/1/exe", O_RDONLY): can it read (copy) init's binary?
 *   proc1_exe_write       open("/proc/1/exe", O_WRONLY). If it opens, the same bytes that are
 *                         already at offset 0 are written back (read through proc1_exe_read's
 *                         fd), so a test that finds the hole does not destroy the binary.
 *   proc1_exe_reopen      the CVE's way: open O_PATH, then open /proc/self/fd/N O_WRONLY.
 *
 * Expected in a cell: proc_self_exe_write EROFS or ETXTBSY; proc1_* EACCES (or ENOENT), never
 * OK/OPENED for a write.
 *
 * Output: RESULT proc_self_exe_write OK|<errno> target=<link>
 *         RESULT proc1_exe_link OK|<errno> [target=<link>]
 *         RESULT proc1_exe_read OK|<errno> [elf=yes|no]
 *         RESULT proc1_exe_write OK|<errno> [wrote=<n> same_bytes=yes]
 *         RESULT proc1_exe_reopen OK|<errno> step=<opath|reopen> ...
 */
#include "hostile.h"

#include <fcntl.h>

/* Writes back the bytes that are already there, if we know them: proves a write goes
 * through without changing the file. Returns an errno, 0 on success. */
static int write_same(int wfd, const unsigned char *head, ssize_t len, ssize_t *wrote)
{
    *wrote = 0;
    if (len <= 0)
        return 0; /* nothing known to write back; the open alone is the finding */
    ssize_t n = pwrite(wfd, head, (size_t)len, 0);
    if (n < 0)
        return errno;
    *wrote = n;
    return 0;
}

int main(void)
{
    char link[4096];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';

    int fd = open("/proc/self/exe", O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        result("proc_self_exe_write", errno_name(errno), "target=%s", link);
    } else {
        result("proc_self_exe_write", "OK", "target=%s truncated=yes", link);
        close(fd);
    }

    n = readlink("/proc/1/exe", link, sizeof link - 1);
    if (n < 0) {
        result_bare("proc1_exe_link", errno_name(errno));
    } else {
        link[n] = '\0';
        result("proc1_exe_link", "OK", "target=%s", link);
    }

    unsigned char head[16];
    ssize_t head_len = -1;
    int rfd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        result_bare("proc1_exe_read", errno_name(errno));
    } else {
        head_len = pread(rfd, head, sizeof head, 0);
        result("proc1_exe_read", head_len < 0 ? errno_name(errno) : "OK", "elf=%s",
               head_len >= 4 && memcmp(head, "\177ELF", 4) == 0 ? "yes" : "no");
        close(rfd);
    }

    int wfd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
    if (wfd < 0) {
        result_bare("proc1_exe_write", errno_name(errno));
    } else {
        ssize_t wrote;
        int err = write_same(wfd, head, head_len, &wrote);
        result_errno("proc1_exe_write", err, "opened=yes wrote=%zd same_bytes=yes", wrote);
        close(wfd);
    }

    int pfd = open("/proc/1/exe", O_PATH | O_CLOEXEC);
    if (pfd < 0) {
        result("proc1_exe_reopen", errno_name(errno), "step=opath");
    } else {
        char fdpath[64];
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", pfd);
        wfd = open(fdpath, O_WRONLY | O_CLOEXEC);
        if (wfd < 0) {
            result("proc1_exe_reopen", errno_name(errno), "step=reopen opath=OK");
        } else {
            ssize_t wrote;
            int err = write_same(wfd, head, head_len, &wrote);
            result_errno("proc1_exe_reopen", err, "step=write wrote=%zd same_bytes=yes", wrote);
            close(wfd);
        }
        close(pfd);
    }
    return 0;
}
