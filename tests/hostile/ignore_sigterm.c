/* ignore_sigterm [sleep|spin]: survive every polite way of ending a process.
 *
 * Attacks: a supervisor that stops a job with SIGTERM (or SIGINT/SIGHUP) and waits for it to
 * go away. The program catches all three, says so, and carries on: sleeping ("sleep", the
 * default: only a wall-clock limit ends it) or burning CPU ("spin": the CPU time limit must
 * end it). Catching rather than SIG_IGN makes the supervisor's grace period visible in the
 * output; to the supervisor the two are the same.
 *
 * Expected in a cell: the job is ended by SIGKILL at its time limit (after an optional
 * SIGTERM grace period, which shows up as CAUGHT lines) with a time-limit verdict.
 *
 * Output: RESULT ignore_sigterm RUNNING mode=<sleep|spin>
 *         RESULT ignore_sigterm CAUGHT <SIGTERM|SIGINT|SIGHUP>   (each time one arrives)
 */
#include "hostile.h"

static void on_signal(int sig)
{
    /* Only write(2) here: it is async-signal-safe, snprintf is not. */
    static const char term[] = "RESULT ignore_sigterm CAUGHT SIGTERM\n";
    static const char intr[] = "RESULT ignore_sigterm CAUGHT SIGINT\n";
    static const char hup[] = "RESULT ignore_sigterm CAUGHT SIGHUP\n";
    int saved = errno;
    if (sig == SIGTERM)
        write_all(STDOUT_FILENO, term, sizeof term - 1);
    else if (sig == SIGINT)
        write_all(STDOUT_FILENO, intr, sizeof intr - 1);
    else
        write_all(STDOUT_FILENO, hup, sizeof hup - 1);
    errno = saved;
}

int main(int argc, char **argv)
{
    const char *use = "ignore_sigterm [sleep|spin]";
    int spin = 0;
    if (argc > 2)
        usage(use);
    if (argc == 2) {
        if (strcmp(argv[1], "spin") == 0)
            spin = 1;
        else if (strcmp(argv[1], "sleep") != 0)
            usage(use);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* A supervisor may have started us with these blocked; unblock them to be sure. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    result("ignore_sigterm", "RUNNING", "mode=%s", spin ? "spin" : "sleep");
    volatile unsigned long counter = 0;
    for (;;) {
        if (spin)
            counter++;
        else
            pause();
    }
}
