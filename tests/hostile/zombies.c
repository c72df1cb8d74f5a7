/* zombies [N] [hold|leave]: leave N zombies (or N live children) for somebody else to reap.
 *
 * Attacks: the cell's PID 1 and the pids limit. A zombie holds a pid (and a pids-cgroup
 * slot) until its parent reaps it. A parent that never calls wait() and then exits hands its
 * zombies to the pid namespace's init: a cell init that does not reap every child (not only
 * the command) fills the pid space and the pids limit with them.
 *
 * Default mode: a helper process forks N (default 10000) children that exit at once, never
 * waits for them, reports, and exits. The program (the helper's parent) then watches /proc
 * until no zombie is left in the cell or 5 s have passed: the orphaned zombies were
 * reparented to the cell's init, which must reap them.
 * "hold": the program itself is the parent that never reaps; it reports and then sleeps
 * until killed, so the supervisor must kill a cell full of zombies.
 * "leave": the program forks N children that sleep forever, reports and exits 0 at once: the
 * job is over, and the cell's init must kill and reap N live orphans before it can report the
 * exit. The job's wall time shows what that costs (it should grow linearly with N).
 *
 * Expected in a cell: CREATED n=N (or EAGAIN n=<count> when pids.max stops it first, which
 * is also a pass), then zombies_reaped OK left=0.
 *
 * Output: RESULT zombies CREATED|<fork errno> n=<created> of=<N> seen=<zombies in /proc>
 *         RESULT zombies_reaped OK|LEFT left=<zombies still visible> waited_ms=<ms>
 *         RESULT zombies_left RUNNING|<fork errno> n=<created> of=<N>     ("leave" only)
 */
#include "hostile.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

/* Zombies visible in /proc; with parent > 0 only that parent's. */
static int count_zombies(pid_t parent)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        /* "pid (comm) S ppid ...": comm may contain spaces and ')', so parse after the last ')'. */
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
            continue;
        if (state == 'Z' && (parent <= 0 || ppid == parent))
            count++;
    }
    closedir(d);
    return count;
}

/* Forks up to N children, each of which exits at once or (stay) sleeps until killed. Returns how
 * many were created; *err is fork's errno if it stopped early, else 0. */
static long fork_children(long n, int stay, int *err)
{
    long created = 0;
    *err = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            *err = errno;
            break;
        }
        if (pid == 0) {
            if (!stay)
                _exit(0);
            for (;;)
                pause();
        }
        created++;
    }
    return created;
}

/* "leave": N children that sleep until killed; the program exits without waiting. */
static void leave_children(long n)
{
    int err;
    long created = fork_children(n, 1, &err);
    result("zombies_left", err ? errno_name(err) : "RUNNING", "n=%ld of=%ld", created, n);
}

static void make_zombies(long n)
{
    int err;
    long created = fork_children(n, 0, &err);
    /* Let the last children finish exiting before counting them. */
    int seen = 0;
    for (int tries = 0; tries < 100; tries++) {
        seen = count_zombies(getpid());
        if (seen >= created || seen < 0)
            break;
        sleep_ms(10);
    }
    result("zombies", err ? errno_name(err) : "CREATED", "n=%ld of=%ld seen=%d", created, n, seen);
}

int main(int argc, char **argv)
{
    const char *use = "zombies [N] [hold|leave]   (N defaults to 10000)";
    long n = 10000;
    int hold = 0, leave = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "hold") == 0)
            hold = 1;
        else if (strcmp(argv[i], "leave") == 0)
            leave = 1;
        else
            n = parse_count(argv[i], use);
    }

    if (hold && leave)
        usage(use);
    if (leave) {
        leave_children(n);
        return 0;
    }
    if (hold) {
        make_zombies(n);
        for (;;)
            pause();
    }

    pid_t helper = fork();
    if (helper < 0) {
        result("zombies", errno_name(errno), "n=0 of=%ld step=fork-helper", n);
        return 0;
    }
    if (helper == 0) {
        make_zombies(n);
        _exit(0); /* orphans its zombies: they go to the cell's init */
    }
    int status;
    while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }

    long waited = 0;
    int left = count_zombies(0);
    while (left > 0 && waited < 5000) {
        sleep_ms(10);
        waited += 10;
        left = count_zombies(0);
    }
    result("zombies_reaped", left == 0 ? "OK" : "LEFT", "left=%d waited_ms=%ld", left, waited);
    return 0;
}
