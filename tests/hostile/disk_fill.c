/* disk_fill DIR: write one file in DIR until the filesystem refuses.
 *
 * Attacks: the size caps on the cell's writable filesystems (the overlay's tmpfs upper layer,
 * /tmp, a writable output directory). Without a cap a job fills the host's memory (tmpfs) or
 * disk; with one, write() fails with ENOSPC at the cap. RLIMIT_FSIZE gives EFBIG instead: the
 * default action of the SIGXFSZ it raises is to kill, so it is ignored here to see the errno.
 *
 * Expected in a cell: ENOSPC with bytes close to the cap of the filesystem DIR is on (or EFBIG
 * if a file size limit is lower), EROFS for a read-only directory, and nothing left on the
 * host after the job.
 *
 * Output: RESULT disk_fill <errno> bytes=<written> path=<file>       (write or fsync failed)
 *         RESULT disk_fill <errno> bytes=0 step=open path=<file>     (could not create it)
 * The file is left in place: the test may check that the cell's filesystem stays full and
 * that it is gone with the cell.
 */
#include "hostile.h"

#include <fcntl.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        usage("disk_fill DIR");

    char path[4096];
    size_t len = strlen(argv[1]);
    snprintf(path, sizeof path, "%s%sdisk_fill.%d", argv[1],
             len && argv[1][len - 1] == '/' ? "" : "/", (int)getpid());
    signal(SIGXFSZ, SIG_IGN);

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        result("disk_fill", errno_name(errno), "bytes=0 step=open path=%s", path);
        return 0;
    }

    static char buf[1 << 20];
    memset(buf, 0x5a, sizeof buf);
    long long bytes = 0;
    int err = 0;
    for (;;) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        bytes += n; /* a short write near the cap is followed by a failing one */
    }
    /* Delayed allocation (ext4, xfs) may only report ENOSPC at writeback. */
    if (fsync(fd) < 0 && err == 0)
        err = errno;
    close(fd);
    result("disk_fill", errno_name(err), "bytes=%lld path=%s", bytes, path);
    return 0;
}
