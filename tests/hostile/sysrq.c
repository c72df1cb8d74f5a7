/* sysrq [write]: reach the host kernel's magic SysRq through the cell's /proc.
 *
 * Attacks: /proc/sysrq-trigger is not namespaced. Writing a key to it acts on the host: 'b'
 * reboots it at once, 'c' crashes it, 'e'/'i' kill every process on it. The kernel checks
 * no capability on write, only the file's mode (0200, owner root): a cell whose command runs
 * as uid 0, even with every capability dropped, can open it unless /proc/sysrq-trigger is
 * masked or read-only in the cell (Docker and runc bind it read-only), or the cell runs in a
 * user namespace (uid 0 of the cell is not the file's owner).
 *
 * The program opens the file for writing and reports. Only with the argument "write" does it
 * write, and then only 'h' (print the SysRq help to the kernel log, nothing else).
 * It also opens /proc/sys/kernel/sysrq (the SysRq enable mask) for writing, never writes it.
 *
 * Expected in a cell: sysrq_trigger EROFS/EACCES/ENOENT (masked), never OPENED or OK.
 * ENOENT also on kernels built without CONFIG_MAGIC_SYSRQ, like the build machine's.
 *
 * Output: RESULT sysrq_trigger OPENED|OK|<errno> path=/proc/sysrq-trigger [wrote=h]
 *         RESULT sysrq_sysctl OPENED|<errno> path=/proc/sys/kernel/sysrq
 */
#include "hostile.h"

#include <fcntl.h>

int main(int argc, char **argv)
{
    int do_write = 0;
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "write") != 0))
        usage("sysrq [write]");
    do_write = argc == 2;

    const char *trigger = "/proc/sysrq-trigger";
    int fd = open(trigger, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        result("sysrq_trigger", errno_name(errno), "path=%s", trigger);
    } else if (!do_write) {
        result("sysrq_trigger", "OPENED", "path=%s (not written)", trigger);
        close(fd);
    } else {
        int err = write(fd, "h", 1) == 1 ? 0 : errno;
        result_errno("sysrq_trigger", err, "path=%s wrote=h", trigger);
        close(fd);
    }

    const char *sysctl = "/proc/sys/kernel/sysrq";
    fd = open(sysctl, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        result("sysrq_sysctl", errno_name(errno), "path=%s", sysctl);
    } else {
        result("sysrq_sysctl", "OPENED", "path=%s (not written)", sysctl);
        close(fd);
    }
    return 0;
}
