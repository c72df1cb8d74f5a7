/* fork_bomb: the classic fork bomb, written in C.
 *
 * Attacks: the cell's process limit. Every process forks forever and keeps trying when fork()
 * fails, so the cell sits at its limit with every process spinning on fork(). That also
 * attacks the supervisor's kill path: a "read cgroup.procs, kill each pid" loop races against
 * new forks and may never empty the cgroup; freezing first, cgroup.kill (v2) or killing the
 * cell's PID 1 (which takes the whole pid namespace with it) does not race.
 *
 * Expected in a cell: fork() starts failing with EAGAIN at pids.max (RLIMIT_NPROC gives EAGAIN
 * too), the job is killed at its time limit, the cgroup is empty and removed afterwards, and
 * the host's process count never notices.
 *
 * Output: RESULT fork_bomb RUNNING pid=<pid>
 *         RESULT fork_bomb <errno of the first failed fork> forks=<n>   (first process only)
 * Never exits by itself: run it only in a sandbox, or on a host inside a pids cgroup.
 */
#include "hostile.h"

int main(void)
{
    const pid_t first = getpid();
    long forks = 0;
    int reported = 0;

    result("fork_bomb", "RUNNING", "pid=%d", (int)first);
    for (;;) {
        pid_t pid = fork();
        if (pid < 0) {
            /* Only the original process reports, once: thousands of copies must not flood
             * the output (that is output_flood's job). */
            if (!reported && getpid() == first) {
                result("fork_bomb", errno_name(errno), "forks=%ld", forks);
                reported = 1;
            }
            continue; /* keep trying: a slot frees up whenever anything dies */
        }
        if (pid == 0) {
            reported = 1; /* children stay silent */
            continue;
        }
        forks++;
    }
}
