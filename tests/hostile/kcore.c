/* kcore: read the host kernel's memory, or its addresses, from inside the cell.
 *
 * Attacks:
 *  - /proc/kcore is an ELF image of the host's physical memory (secrets of every process,
 *    the kernel's). Opening it needs CAP_SYS_RAWIO; Docker also masks it with /dev/null.
 *  - /dev/mem, /dev/kmem, /dev/port: the same through device nodes; the cell's /dev must not
 *    have them.
 *  - /proc/kallsyms: kernel symbol addresses defeat KASLR. They read as zeros without
 *    CAP_SYSLOG (kptr_restrict, perf_event_paranoid).
 *
 * Expected in a cell: kcore EACCES/EPERM/ENOENT (ENOENT also on kernels without
 * CONFIG_PROC_KCORE, like the build machine's), dev_mem ENOENT for all three, kallsyms
 * ZEROED (or ENOENT/EACCES).
 *
 * Output: RESULT kcore READABLE|<errno> [bytes=<n> elf=<yes|no>]
 *         RESULT dev_mem OPENED|<errno> path=<node>
 *         RESULT kallsyms ZEROED|ADDRESSES|<errno> [first=<address>]
 */
#include "hostile.h"

#include <fcntl.h>

int main(void)
{
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result("kcore", errno_name(errno), "path=/proc/kcore");
    } else {
        unsigned char buf[64];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0)
            result("kcore", errno_name(errno), "path=/proc/kcore step=read opened=yes");
        else
            result("kcore", "READABLE", "bytes=%zd elf=%s", n,
                   n >= 4 && memcmp(buf, "\177ELF", 4) == 0 ? "yes" : "no");
        close(fd);
    }

    static const char *const nodes[] = {"/dev/mem", "/dev/kmem", "/dev/port"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        fd = open(nodes[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            result("dev_mem", errno_name(errno), "path=%s", nodes[i]);
        } else {
            result("dev_mem", "OPENED", "path=%s", nodes[i]);
            close(fd);
        }
    }

    fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result("kallsyms", errno_name(errno), "path=/proc/kallsyms");
        return 0;
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        result("kallsyms", n < 0 ? errno_name(errno) : "EMPTY", "path=/proc/kallsyms");
        return 0;
    }
    buf[n] = '\0';
    /* Lines are "<hex address> <type> <name>"; any non-zero address is a leak. */
    int leaked = 0;
    char first[32] = "";
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        unsigned long long addr = strtoull(line, NULL, 16);
        if (!first[0])
            snprintf(first, sizeof first, "%.16s", line);
        if (addr)
            leaked = 1;
        line = nl ? nl + 1 : NULL;
    }
    result("kallsyms", leaked ? "ADDRESSES" : "ZEROED", "first=%s", first);
    return 0;
}
