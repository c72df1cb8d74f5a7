/* proc_sys: can the cell write the host kernel's global settings through /proc/sys?
 *
 * Attacks: most of /proc/sys is not namespaced, and a sysctl write is checked against the
 * file's mode bits with euid 0 counting as the owner, not against a capability. So a command
 * running as uid 0 with every capability dropped can still change the host unless /proc/sys
 * is read-only in the cell (Docker, runc and bubblewrap mount it read-only) or the cell runs
 * in a user namespace. The worst of them:
 *   kernel/core_pattern      "|/path" runs /path as root on the host at the next core dump:
 *                            a classic container escape.
 *   kernel/modprobe          the helper the kernel runs as root to load a module.
 *   kernel/panic, vm/panic_on_oom, kernel/sysrq, vm/drop_caches, fs/file-max ...
 * (kernel/hostname is not probed: it is the cell's own UTS namespace, see sethostname.)
 * Each file is opened O_WRONLY and closed, never written: a test that fails must not harm the
 * machine that runs it.
 *
 * Expected in a cell: every line EROFS (read-only /proc/sys), EACCES (user namespace) or
 * ENOENT; none OPENED. Network sysctls (net/...) belong to the cell's own network namespace
 * and may legitimately be writable; none are probed here.
 *
 * Output: RESULT proc_sys_write OPENED|<errno> path=<file>      (one line per file)
 *         RESULT proc_sys CONTAINED|WRITABLE opened=<n>
 */
#include "hostile.h"

#include <fcntl.h>

int main(void)
{
    static const char *const files[] = {
        "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
        "/proc/sys/kernel/panic",        "/proc/sys/kernel/sysrq",
        "/proc/sys/vm/panic_on_oom",     "/proc/sys/vm/drop_caches",
        "/proc/sys/fs/file-max",         "/proc/sys/kernel/randomize_va_space",
    };
    int opened = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = open(files[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            result("proc_sys_write", errno_name(errno), "path=%s", files[i]);
            continue;
        }
        opened++;
        result("proc_sys_write", "OPENED", "path=%s (not written)", files[i]);
        close(fd);
    }
    result("proc_sys", opened ? "WRITABLE" : "CONTAINED", "opened=%d", opened);
    return 0;
}
