/* clocks: prints the calling process's CLOCK_MONOTONIC and CLOCK_BOOTTIME in seconds, for the
 * time-namespace tests (inside a cell with "time_namespace" both start near 0).
 *
 * Output: RESULT clocks monotonic_s=<s.sss> boottime_s=<s.sss>
 */
#include "../hostile/hostile.h"

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    printf("RESULT clocks monotonic_s=%.3f boottime_s=%.3f\n", seconds(CLOCK_MONOTONIC), seconds(CLOCK_BOOTTIME));
    return 0;
}
