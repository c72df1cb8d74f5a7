/* fds [FD...]: which file descriptors did the command inherit?
 *
 * Attacks: leaked descriptors. Any fd the supervisor or init leaves open across execve is a
 * handle to something outside the cell: a directory on the host (CVE-2024-21626 in runc:
 * a leaked fd to /sys/fs/cgroup reached through /proc/self/fd/N as the working directory),
 * the other end of a control socket, a log file, a cgroup file. The command must start with
 * exactly 0, 1 and 2 open (close_range(3, ~0) just before execve).
 *
 * First, before opening anything itself, the program fstat()s every fd from 3 up to
 * RLIMIT_NOFILE (at least 1023, at most 65535), which works without /proc. Then it lists
 * /proc/self/fd (minus the directory's own fd) with each link's target.
 *
 * Each FD argument is a descriptor number the supervisor had open when it started the job (a
 * test opens a file on the host and passes its number): the program read()s one byte from it
 * first of all, the way a command would use a descriptor it guessed.
 *
 * Expected in a cell: fds CLEAN open=0,1,2 (0 may be /dev/null or closed, depending on the
 * job's stdin); fd_read EBADF for every FD argument.
 *
 * Output: RESULT fd_read EBADF|<errno>|OK fd=<n> [bytes=<n> target=<readlink>]   (per FD argument)
 *         RESULT fd OPEN fd=<n> target=<readlink>        (one per /proc/self/fd entry)
 *         RESULT fd_list <errno>                          (if /proc/self/fd cannot be read)
 *         RESULT fds CLEAN|LEAKED open=<fds found by fstat> scanned_to=<n> [leaked=<fd:target,...>]
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MAX_SEEN 256

int main(int argc, char **argv)
{
    /* The supervisor's fd numbers first, before anything of ours can take one of them. */
    for (int i = 1; i < argc; i++) {
        int fd = (int)parse_count(argv[i], "fds [FD...]");
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0) {
            result("fd_read", errno_name(errno), "fd=%d", fd);
        } else {
            char path[64], target[512];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t t = readlink(path, target, sizeof target - 1);
            target[t > 0 ? t : 0] = '\0';
            result("fd_read", "OK", "fd=%d bytes=%zd target=%s", fd, n, t > 0 ? target : "?");
        }
    }

    struct rlimit rl;
    long limit = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur > limit)
        limit = (long)rl.rlim_cur;
    if (limit > 65536)
        limit = 65536;

    /* fstat scan first: nothing of ours is open yet besides what we inherited. */
    static int seen[MAX_SEEN];
    int nseen = 0, extra = 0;
    struct stat st;
    for (int fd = 0; fd < limit; fd++) {
        if (fstat(fd, &st) < 0)
            continue;
        if (nseen < MAX_SEEN)
            seen[nseen++] = fd;
        if (fd >= 3)
            extra++;
    }

    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        result("fd_list", errno_name(errno), "path=/proc/self/fd");
    } else {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            int fd = atoi(e->d_name);
            if (fd == dirfd(d))
                continue;
            char path[64], target[1024];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(path, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
            result("fd", "OPEN", "fd=%d target=%s", fd, n > 0 ? target : "?");
        }
        closedir(d);
    }

    char open_list[2048] = "", leaked[4096] = "";
    size_t olen = 0, llen = 0;
    for (int i = 0; i < nseen; i++) {
        int n = snprintf(open_list + olen, sizeof open_list - olen, "%s%d", olen ? "," : "",
                         seen[i]);
        if (n > 0 && (size_t)n < sizeof open_list - olen)
            olen += (size_t)n;
        if (seen[i] < 3)
            continue;
        char path[64], target[512];
        snprintf(path, sizeof path, "/proc/self/fd/%d", seen[i]);
        ssize_t t = readlink(path, target, sizeof target - 1);
        target[t > 0 ? t : 0] = '\0';
        n = snprintf(leaked + llen, sizeof leaked - llen, "%s%d:%s", llen ? "," : "", seen[i],
                     t > 0 ? target : "?");
        if (n > 0 && (size_t)n < sizeof leaked - llen)
            llen += (size_t)n;
    }
    if (extra)
        result("fds", "LEAKED", "open=%s scanned_to=%ld leaked=%s", open_list, limit - 1, leaked);
    else
        result("fds", "CLEAN", "open=%s scanned_to=%ld", olen ? open_list : "-", limit - 1);
    return 0;
}
