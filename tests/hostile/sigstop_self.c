/* sigstop_self [self|pgrp]: stop ourselves (or our whole process group) with SIGSTOP.
 *
 * Attacks: a supervisor that waits for the command with waitpid() and misreads a stop as an
 * exit (WUNTRACED/WIFSTOPPED handling), or that enforces time only through CPU time: a
 * stopped process uses no CPU, so only a wall-clock limit ends it. SIGKILL does end a stopped
 * process, so killing the cell must still work. "pgrp" sends SIGSTOP to the process group
 * (kill(0, SIGSTOP)); the cell's init ignores it in any case, because a pid namespace's init
 * only receives signals from inside the namespace that it installed a handler for, and
 * SIGSTOP cannot have one.
 *
 * Expected in a cell: the job ends at its wall-clock limit, killed, not "exited".
 * If something sends SIGCONT the program reports it and exits 0.
 *
 * Output: RESULT sigstop_self STOPPING target=<self|pgrp>
 *         RESULT sigstop_self CONTINUED          (only after a SIGCONT)
 */
#include "hostile.h"

int main(int argc, char **argv)
{
    const char *use = "sigstop_self [self|pgrp]";
    int pgrp = 0;
    if (argc > 2)
        usage(use);
    if (argc == 2) {
        if (strcmp(argv[1], "pgrp") == 0)
            pgrp = 1;
        else if (strcmp(argv[1], "self") != 0)
            usage(use);
    }

    result("sigstop_self", "STOPPING", "target=%s", pgrp ? "pgrp" : "self");
    int rc = pgrp ? kill(0, SIGSTOP) : raise(SIGSTOP);
    if (rc != 0) {
        result("sigstop_self", errno_name(errno), "step=%s", pgrp ? "kill(0)" : "raise");
        return 0;
    }
    result_bare("sigstop_self", "CONTINUED");
    return 0;
}
