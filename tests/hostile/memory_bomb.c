/* memory_bomb [MIB_PER_STEP]: allocate and touch memory until killed.
 *
 * Attacks: the memory limit and the verdict that reports it. Each step maps MIB_PER_STEP
 * (default 16) MiB of anonymous memory and writes to every page, so the memory is really
 * charged (an untouched mapping costs nothing and proves nothing). Nothing is ever freed.
 *
 * Expected in a cell: the memory cgroup's OOM killer kills the program (SIGKILL), the result
 * says memory limit exceeded, the peak memory reported is close to the limit, and the OOM
 * event counter moved. If an address-space rlimit stops it first, mmap fails with ENOMEM:
 * that is reported once, then the program keeps retrying slowly until it is killed.
 *
 * Output: RESULT memory_bomb RUNNING step_mib=<n>
 *         RESULT memory_bomb <errno> mib=<total>   (only if an allocation is refused)
 *         progress on stderr: "memory_bomb: <total> MiB touched"
 */
#include "hostile.h"

#include <sys/mman.h>

int main(int argc, char **argv)
{
    const char *use = "memory_bomb [MIB_PER_STEP]   (default 16, at least 1)";
    long step_mib = 16;
    if (argc > 2)
        usage(use);
    if (argc == 2)
        step_mib = parse_count(argv[1], use);
    if (step_mib < 1)
        usage(use);

    const size_t step = (size_t)step_mib << 20;
    const long page = sysconf(_SC_PAGESIZE);
    long total_mib = 0;
    int reported = 0;

    result("memory_bomb", "RUNNING", "step_mib=%ld", step_mib);
    for (;;) {
        char *p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            if (!reported) {
                result("memory_bomb", errno_name(errno), "mib=%ld", total_mib);
                reported = 1;
            }
            sleep_ms(10); /* stay alive (and small on CPU) until the supervisor kills us */
            continue;
        }
        /* A non-zero write to every page: no zero-page sharing, no KSM-friendly pattern. */
        for (size_t off = 0; off < step; off += (size_t)page)
            ((volatile char *)p)[off] = (char)(off >> 12 | 1);
        total_mib += step_mib;
        note("memory_bomb", "%ld MiB touched", total_mib);
    }
}
