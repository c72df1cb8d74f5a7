/* unshare_ns: make new namespaces from inside the cell.
 *
 * Attacks: namespace creation as a door to privilege and to kernel attack surface. A new
 * user namespace gives its creator every capability inside it, which opens code normally
 * reserved for root: mounting filesystems (CVE-2022-0185 in fsconfig), netfilter
 * (CVE-2022-25636, CVE-2023-32233), cgroup v1 release_agent (CVE-2022-0492)... The other
 * namespaces need CAP_SYS_ADMIN, so without a new user namespace they fail. Each attempt runs
 * in a child process, so one success does not change the next attempt.
 *
 * Tries, each on its own line:
 *   unshare_<ns>   unshare(CLONE_NEW<NS>) for user, mnt, pid, net, uts, ipc, cgroup, time
 *   userns_mount   the full chain: unshare(CLONE_NEWUSER|CLONE_NEWNS), try to map our
 *                  uid/gid to 0, then mount a tmpfs. OK means the command can reach the
 *                  mount code of every filesystem that allows user-namespace mounts.
 *
 * Expected in a cell, default policy: every line EPERM (seccomp denies CLONE_NEWUSER; the
 * other flags need CAP_SYS_ADMIN, which is dropped). If the user namespace is allowed,
 * unshare_user OK and userns_mount shows how far the chain goes.
 *
 * Output: RESULT unshare_<ns> OK|<errno> flag=CLONE_NEW<NS>
 *         RESULT userns_mount OK|<errno> maps=<mapped|setgroups:<errno>|uid_map:<errno>|
 *               gid_map:<errno>|unshare>   (unshare: the unshare itself failed)
 */
#include "hostile.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct outcome {
    int err;
    char step[32];
};

/* Runs fn in a child and returns what it reported through the pipe. */
static struct outcome in_child(struct outcome (*fn)(const void *), const void *arg)
{
    struct outcome out = {0, ""};
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        out.err = errno;
        snprintf(out.step, sizeof out.step, "pipe");
        return out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        out.err = errno;
        snprintf(out.step, sizeof out.step, "fork");
        close(p[0]);
        close(p[1]);
        return out;
    }
    if (pid == 0) {
        close(p[0]);
        out = fn(arg);
        write_all(p[1], (const char *)&out, sizeof out);
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &out, sizeof out) != (ssize_t)sizeof out) {
        out.err = EPIPE;
        snprintf(out.step, sizeof out.step, "child-died");
    }
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    return out;
}

static struct outcome do_unshare(const void *arg)
{
    struct outcome out = {0, "unshare"};
    if (unshare(*(const int *)arg) < 0)
        out.err = errno;
    return out;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : errno;
    close(fd);
    return err;
}

/* The maps are best effort: mapping uid 0 of the host needs CAP_SETFCAP at unshare time
 * (since Linux 5.12), but the creator has every capability in the new namespace even with
 * no map written, so the mount is tried either way. The detail says which map failed. */
static struct outcome do_userns_mount(const void *arg)
{
    const char *dir = arg;
    struct outcome out = {0, "unshare"};
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
        out.err = errno;
        return out;
    }
    /* setgroups must be denied before an unprivileged gid_map write (CVE-2014-8989). */
    int err = write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (!err && (err = write_file("/proc/self/uid_map", map)) != 0)
        snprintf(out.step, sizeof out.step, "uid_map:%s", errno_name(err));
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    if (!err && (err = write_file("/proc/self/gid_map", map)) != 0)
        snprintf(out.step, sizeof out.step, "gid_map:%s", errno_name(err));
    if (!err)
        snprintf(out.step, sizeof out.step, "mapped");
    else if (strcmp(out.step, "unshare") == 0)
        snprintf(out.step, sizeof out.step, "setgroups:%s", errno_name(err));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0) {
        out.err = errno;
        return out;
    }
    umount2(dir, MNT_DETACH);
    return out;
}

int main(void)
{
    static const struct {
        const char *name, *flag_name;
        int flag;
    } nss[] = {
        {"unshare_user", "CLONE_NEWUSER", CLONE_NEWUSER},
        {"unshare_mnt", "CLONE_NEWNS", CLONE_NEWNS},
        {"unshare_pid", "CLONE_NEWPID", CLONE_NEWPID},
        {"unshare_net", "CLONE_NEWNET", CLONE_NEWNET},
        {"unshare_uts", "CLONE_NEWUTS", CLONE_NEWUTS},
        {"unshare_ipc", "CLONE_NEWIPC", CLONE_NEWIPC},
        {"unshare_cgroup", "CLONE_NEWCGROUP", CLONE_NEWCGROUP},
        {"unshare_time", "CLONE_NEWTIME", CLONE_NEWTIME},
    };
    for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
        struct outcome out = in_child(do_unshare, &nss[i].flag);
        if (strcmp(out.step, "unshare") == 0)
            result_errno(nss[i].name, out.err, "flag=%s", nss[i].flag_name);
        else
            result_errno(nss[i].name, out.err, "flag=%s step=%s", nss[i].flag_name, out.step);
    }

    char dir[] = "/tmp/unshare_ns.XXXXXX";
    if (!mkdtemp(dir)) {
        result("userns_mount", errno_name(errno), "step=mkdtemp");
        return 0;
    }
    struct outcome out = in_child(do_userns_mount, dir);
    result_errno("userns_mount", out.err, "maps=%s", out.step);
    rmdir(dir);
    return 0;
}
