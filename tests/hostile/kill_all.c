/* kill_all [--force]: kill(-1, SIGKILL) from inside the cell.
 *
 * Attacks: kill(-1) signals every process the caller may signal, except itself and the init
 * of its pid namespace. On a host (or in a cell without its own pid namespace) a uid-0
 * command would take down every process of the machine, the supervisor included. In a cell
 * the reach is the cell's pid namespace: the command's own processes die, cellblock's init
 * survives, nothing outside is touched.
 *
 * The program (M) lists the processes it can see, forks a child (C), and C sends the signal,
 * prints the outcome at once, then waits up to 100 ms for the victims to die and reports who
 * is left. M is among the victims, so only C can report, and once M (the command) is dead
 * the cell's init kills what is left, C included: the kill_all line is usually there, the
 * kill_all_survivors line often is not. A test must accept either missing and, when
 * kill_all_survivors is present, check init_alive=yes.
 *
 * Refuses to run in the host's initial pid namespace unless given --force.
 *
 * Expected in a cell: the SENDING line; then (usually) kill_all OK; if it gets out,
 * kill_all_survivors with every listed process except PID 1 and C dead and init_alive=yes;
 * the job ends killed by SIGKILL; the supervisor and the host are unaffected.
 *
 * Output: RESULT kill_all SENDING visible=<n> pids=<pid,...>
 *         RESULT kill_all OK|<errno>
 *         RESULT kill_all_survivors OK|<errno> killed=<n> of=<n> survivors=<pid,...>
 *               self_alive=yes init_alive=<yes|no> parent_alive=<yes|no>
 */
#include "hostile.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#define MAX_PIDS 4096

/* 'R', 'S', 'Z', ... or 0 if the process is gone. */
static char state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

static int alive(pid_t pid)
{
    char s = state_of(pid);
    return s != 0 && s != 'Z' && s != 'X';
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--force") != 0))
        usage("kill_all [--force]   (refuses the host's pid namespace without --force)");
    refuse_on_host("kill_all", argc, argv, "pid");

    static pid_t pids[MAX_PIDS];
    int npids = 0;
    char list[2048] = "";
    size_t len = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && npids < MAX_PIDS) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pids[npids++] = (pid_t)atoi(e->d_name);
        int n = snprintf(list + len, sizeof list - len, "%s%s", len ? "," : "", e->d_name);
        if (n > 0 && (size_t)n < sizeof list - len)
            len += (size_t)n;
    }
    if (d)
        closedir(d);
    result("kill_all", "SENDING", "visible=%d pids=%s", npids, list);

    const pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        result("kill_all", errno_name(errno), "step=fork");
        return 0;
    }
    if (child == 0) {
        const pid_t self = getpid();
        int err = kill(-1, SIGKILL) == 0 ? 0 : errno;
        /* First the bare outcome, at once: the victims (our parent, the command, among them)
         * are still dying, so this line usually gets out before the cell's init, seeing the
         * command gone, kills us too. */
        result_bare("kill_all", errno_name(err));
        /* SIGKILL is delivered when each victim next runs: give them up to 100 ms. */
        int killed = 0, candidates = 0;
        for (int ms = 0; ms <= 100; ms++) {
            killed = candidates = 0;
            for (int i = 0; i < npids; i++) {
                if (pids[i] == 1 || pids[i] == self)
                    continue;
                candidates++;
                killed += !alive(pids[i]);
            }
            if (killed == candidates || err)
                break;
            sleep_ms(1);
        }
        char survivors[1024] = "";
        len = 0;
        for (int i = 0; i < npids; i++) {
            if (pids[i] == self || !alive(pids[i]))
                continue;
            int n = snprintf(survivors + len, sizeof survivors - len, "%s%d", len ? "," : "",
                             (int)pids[i]);
            if (n > 0 && (size_t)n < sizeof survivors - len)
                len += (size_t)n;
        }
        result_errno("kill_all_survivors", err,
                     "killed=%d of=%d survivors=%s self_alive=yes init_alive=%s parent_alive=%s",
                     killed, candidates, len ? survivors : "-", alive(1) ? "yes" : "no",
                     alive(parent) ? "yes" : "no");
        _exit(0);
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return 0; /* only reached when kill(-1) spared us */
}
