/* output_flood [stdout|stderr|both]: write output forever.
 *
 * Attacks: the supervisor's output capture. A job that writes as fast as it can must not fill
 * the host's memory or disk with its log, must not starve other jobs' log readers, and must
 * end with an "output limit exceeded" verdict once the cap is reached (the supervisor then
 * kills it, or closes the pipe so the next write raises SIGPIPE).
 *
 * If SIGPIPE is ignored (an ignored disposition survives execve) writes fail with EPIPE
 * instead; the program then keeps trying slowly, so it still only ends by being killed.
 *
 * Output: RESULT output_flood RUNNING target=<stream>, then endless lines of 'A's.
 */
#include "hostile.h"

int main(int argc, char **argv)
{
    const char *use = "output_flood [stdout|stderr|both]";
    int to_out = 1, to_err = 0;
    if (argc > 2)
        usage(use);
    if (argc == 2) {
        if (strcmp(argv[1], "stdout") == 0) {
        } else if (strcmp(argv[1], "stderr") == 0) {
            to_out = 0;
            to_err = 1;
        } else if (strcmp(argv[1], "both") == 0) {
            to_err = 1;
        } else {
            usage(use);
        }
    }

    static char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (i % 64 == 63) ? '\n' : 'A';

    result("output_flood", "RUNNING", "target=%s", argc == 2 ? argv[1] : "stdout");
    int reported = 0;
    for (;;) {
        for (int fd = 1; fd <= 2; fd++) {
            if ((fd == 1 && !to_out) || (fd == 2 && !to_err))
                continue;
            if (write(fd, buf, sizeof buf) < 0 && errno != EINTR) {
                if (!reported)
                    note("output_flood", "write(%d): %s; retrying until killed", fd,
                         errno_name(errno));
                reported = 1;
                sleep_ms(1);
            }
        }
    }
}
