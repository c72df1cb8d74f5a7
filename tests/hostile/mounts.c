/* mounts: change the cell's mount table from inside.
 *
 * Attacks: every mount the command can make or undo. With CAP_SYS_ADMIN over its mount
 * namespace a command can mount a fresh procfs or sysfs (with none of the masks the cell put
 * over /proc/kcore, /proc/sysrq-trigger, /proc/sys...), bind the root elsewhere, remount the
 * read-only binds (the test programs at /t, inputs) read-write, or unmount the masks. In a
 * cell the command has no CAP_SYS_ADMIN (and the default seccomp policy denies mount), so all
 * of it fails. In a user namespace the kernel also locks the flags of mounts inherited from
 * the parent namespace (MNT_LOCK_READONLY...), so a remount read-write fails with EPERM even
 * for root of that namespace.
 *
 * Tries, each on its own line:
 *   mount            tmpfs on a fresh directory in /tmp
 *   mount_proc       a new procfs there
 *   mount_sysfs      a new sysfs there
 *   mount_bind       bind "/" (recursively) there
 *   fsopen           the new mount API: fsopen("tmpfs")
 *   open_tree_clone  open_tree("/", OPEN_TREE_CLONE): a detached copy of the mount tree
 *   remount_rw       every read-only mount in /proc/self/mountinfo, remounted without
 *                    MS_RDONLY (and put back read-only if that worked)
 *   umount           every mount below /proc/ (the masks), with MNT_DETACH
 * Anything that succeeded is undone where it can be.
 *
 * Expected in a cell: every line EPERM (or the policy's errno for mount/umount2/fsopen/
 * open_tree), and no remount_rw or umount line OK.
 * As root it really remounts and unmounts: it refuses to run as root in the host's initial
 * pid namespace unless given --force; on a host run it inside `unshare -m` (private mounts).
 *
 * Output: RESULT <name> OK|<errno> [path=<mount point>] [now=<rw|ro>]
 */
#include "hostile.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif

#define MAX_MOUNTS 256

/* Undoes "\040" and friends in mountinfo paths. */
static void unescape(char *s)
{
    char *out = s;
    for (char *in = s; *in; in++) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] && in[3]) {
            *out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
            in += 3;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

static char mount_points[MAX_MOUNTS][512];
static int read_only[MAX_MOUNTS];
static int nmounts;

static void read_mountinfo(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        result("mountinfo", errno_name(errno), "path=/proc/self/mountinfo");
        return;
    }
    char line[4096];
    while (nmounts < MAX_MOUNTS && fgets(line, sizeof line, f)) {
        /* "id parent major:minor root mount-point mount-options ..." */
        char mp[512], opts[512];
        if (sscanf(line, "%*d %*d %*s %*s %511s %511s", mp, opts) != 2)
            continue;
        unescape(mp);
        snprintf(mount_points[nmounts], sizeof mount_points[0], "%s", mp);
        read_only[nmounts] = strcmp(opts, "ro") == 0 || strncmp(opts, "ro,", 3) == 0;
        nmounts++;
    }
    fclose(f);
}

/* The per-mount flags to keep on a remount: in a user namespace they are locked and a
 * remount that drops one fails, which would hide the read-only check behind another. */
static unsigned long kept_flags(const char *path)
{
    struct statvfs sv;
    unsigned long flags = 0;
    if (statvfs(path, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    return flags;
}

static void try_mount(const char *name, const char *dir, const char *source, const char *type,
                      unsigned long flags, const char *data)
{
    int err = mount(source, dir, type, flags, data) == 0 ? 0 : errno;
    result_errno(name, err, "path=%s type=%s", dir, type ? type : "bind");
    if (!err)
        umount2(dir, MNT_DETACH);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--force") != 0))
        usage("mounts [--force]   (as root, refuses the host's pid namespace without --force)");
    if (geteuid() == 0)
        refuse_on_host("mounts", argc, argv, "pid");

    char dir[] = "/tmp/mounts.XXXXXX";
    if (!mkdtemp(dir)) {
        result("mount", errno_name(errno), "step=mkdtemp dir=/tmp");
    } else {
        try_mount("mount", dir, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m");
        try_mount("mount_proc", dir, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        try_mount("mount_sysfs", dir, "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        try_mount("mount_bind", dir, "/", NULL, MS_BIND | MS_REC, NULL);
        rmdir(dir);
    }

    int fd = (int)syscall(SYS_fsopen, "tmpfs", 0);
    result_errno("fsopen", fd < 0 ? errno : 0, "fs=tmpfs");
    if (fd >= 0)
        close(fd);
    fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE);
    result_errno("open_tree_clone", fd < 0 ? errno : 0, "path=/");
    if (fd >= 0)
        close(fd);

    read_mountinfo();
    for (int i = 0; i < nmounts; i++) {
        if (!read_only[i])
            continue;
        const char *mp = mount_points[i];
        unsigned long keep = kept_flags(mp);
        int err = mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | keep, NULL) == 0 ? 0 : errno;
        struct statvfs sv;
        const char *now = statvfs(mp, &sv) < 0 ? "?" : (sv.f_flag & ST_RDONLY) ? "ro" : "rw";
        result_errno("remount_rw", err, "path=%s now=%s", mp, now);
        if (!err)
            mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
    }
    /* Deepest first, so a mask on top of a mask is tried before what it covers. */
    for (int i = nmounts - 1; i >= 0; i--) {
        if (strncmp(mount_points[i], "/proc/", 6) != 0)
            continue;
        int err = umount2(mount_points[i], MNT_DETACH) == 0 ? 0 : errno;
        result_errno("umount", err, "path=%s", mount_points[i]);
    }
    return 0;
}
