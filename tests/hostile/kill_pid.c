/* kill_pid PID: signal a process outside the cell by its host pid.
 *
 * Attacks: the pid namespace boundary. The test passes the supervisor's pid as the host sees
 * it. A process in its own pid namespace cannot name processes outside it, so the number
 * means nothing there (ESRCH), or at most a process of the cell that happens to have that
 * number (the cell's pids are small; the test should pass a pid above them).
 *
 * Sends signal 0 first (existence check), then SIGKILL.
 *
 * Expected in a cell: kill_probe ESRCH, kill_pid ESRCH; the supervisor lives on.
 *
 * Output: RESULT kill_probe OK|<errno> pid=<PID>
 *         RESULT kill_pid OK|<errno> pid=<PID> signal=SIGKILL
 */
#include "hostile.h"

int main(int argc, char **argv)
{
    const char *use = "kill_pid PID   (a pid as seen outside the cell, > 1)";
    if (argc != 2)
        usage(use);
    long pid = parse_count(argv[1], use);
    if (pid <= 1)
        usage(use);

    result_errno("kill_probe", kill((pid_t)pid, 0) == 0 ? 0 : errno, "pid=%ld", pid);
    result_errno("kill_pid", kill((pid_t)pid, SIGKILL) == 0 ? 0 : errno, "pid=%ld signal=SIGKILL",
                 pid);
    return 0;
}
