/* daemon [HEARTBEAT_FILE]: detach like a classic daemon and try to outlive the job.
 *
 * Attacks: "kill the whole cell, always". The program double-forks: the child calls setsid()
 * (new session, no controlling terminal) and forks the grandchild, then exits; the grandchild
 * is reparented to the cell's init, ignores SIGTERM/SIGINT/SIGHUP, points stdin/out/err at
 * /dev/null (so the job's output pipes reach end-of-file while it still runs), and writes a
 * heartbeat to HEARTBEAT_FILE (default /tmp/daemon.heartbeat) every 100 ms. The program
 * itself exits 0 at once, so the job looks finished.
 *
 * Expected in a cell: the job ends right after the program exits, the grandchild is killed
 * with the cell (killing PID 1 of the pid namespace kills all of it; the cgroup is empty
 * afterwards) and the heartbeat stops. A test binds a writable directory, passes a file in
 * it, and checks from the host that the file stops changing once the job is over.
 *
 * Output: RESULT daemon STARTED pid=<grandchild pid in the cell> heartbeat=<file>
 *         RESULT daemon <errno> step=<what failed>
 * Heartbeat file: one line "beat=<n> realtime_ms=<ms> pid=<pid>", rewritten in place.
 */
#include "hostile.h"

#include <fcntl.h>
#include <sys/wait.h>

struct report {
    int pid;
    int err;
    char step[32];
};

static long long realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc > 2)
        usage("daemon [HEARTBEAT_FILE]   (default /tmp/daemon.heartbeat)");
    const char *path = argc == 2 ? argv[1] : "/tmp/daemon.heartbeat";

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        result("daemon", errno_name(errno), "step=pipe");
        return 0;
    }
    pid_t child = fork();
    if (child < 0) {
        result("daemon", errno_name(errno), "step=fork");
        return 0;
    }
    if (child == 0) {
        struct report r = {0, 0, ""};
        close(p[0]);
        if (setsid() < 0) {
            r.err = errno;
            snprintf(r.step, sizeof r.step, "setsid");
        }
        pid_t grandchild = r.err ? -1 : fork();
        if (grandchild < 0 && !r.err) {
            r.err = errno;
            snprintf(r.step, sizeof r.step, "fork2");
        }
        if (grandchild != 0) {
            if (r.err)
                write_all(p[1], (const char *)&r, sizeof r);
            _exit(0); /* the session leader leaves; the grandchild can never get a tty */
        }

        /* The grandchild: the daemon. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        int hb = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        r.pid = getpid();
        if (hb < 0) {
            r.err = errno;
            snprintf(r.step, sizeof r.step, "open-heartbeat");
        }
        write_all(p[1], (const char *)&r, sizeof r);
        close(p[1]);
        if (hb < 0)
            _exit(0);
        if (chdir("/") < 0) {
            /* not fatal: the daemon only wants to release the job's working directory */
        }
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            if (null > 2)
                close(null);
        }
        for (long beat = 1;; beat++) {
            char line[128];
            int n = snprintf(line, sizeof line, "beat=%ld realtime_ms=%lld pid=%d\n", beat,
                             realtime_ms(), (int)r.pid);
            if (pwrite(hb, line, (size_t)n, 0) == n)
                (void)!ftruncate(hb, n);
            sleep_ms(100);
        }
    }

    close(p[1]);
    struct report r = {0, 0, ""};
    ssize_t got = read(p[0], &r, sizeof r);
    int status;
    waitpid(child, &status, 0);
    if (got != (ssize_t)sizeof r)
        result("daemon", "EPIPE", "step=no-report-from-grandchild");
    else if (r.err)
        result("daemon", errno_name(r.err), "step=%s", r.step);
    else
        result("daemon", "STARTED", "pid=%d heartbeat=%s", r.pid, path);
    return 0;
}
