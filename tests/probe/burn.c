/* burn: a program whose resource use is known exactly, for checking what cellblock measures.
 *
 *   burn cpu MS [THREADS]   each of THREADS threads (default 1) burns MS ms of its own CPU
 *                           time (CLOCK_THREAD_CPUTIME_ID), then the program reports what it
 *                           used by getrusage(RUSAGE_SELF) and exits
 *   burn spin [THREADS]     spin forever in THREADS threads (for CPU-time limits)
 *   burn memory MIB         touch MIB MiB of anonymous memory, report, exit
 *
 * Output: RESULT burn cpu_ms=<user+system of the whole process from getrusage> wall_ms=<...>
 *         RESULT burn memory_mib=<n> rss_kib=<VmHWM>
 */
#include "../hostile/hostile.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

static long burn_ms;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *burn_thread(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    if (burn_ms < 0)
        for (;;) x++;
    double start = thread_cpu_ms();
    while (thread_cpu_ms() - start < (double)burn_ms)
        for (int i = 0; i < 10000; i++) x++;
    return NULL;
}

static void run_threads(long threads)
{
    pthread_t t[256];
    if (threads < 1 || threads > 256)
        usage("burn cpu MS [THREADS 1-256] | burn spin [THREADS] | burn memory MIB");
    for (long i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, burn_thread, NULL);
    burn_thread(NULL);
    for (long i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *use = "burn cpu MS [THREADS] | burn spin [THREADS] | burn memory MIB";
    if (argc < 2)
        usage(use);
    if (strcmp(argv[1], "cpu") == 0 && (argc == 3 || argc == 4)) {
        burn_ms = parse_count(argv[2], use);
        double start = wall_ms();
        run_threads(argc == 4 ? parse_count(argv[3], use) : 1);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
                     ru.ru_stime.tv_usec / 1e3;
        result("burn", "OK", "cpu_ms=%.3f wall_ms=%.3f", cpu, wall_ms() - start);
        return 0;
    }
    if (strcmp(argv[1], "spin") == 0 && argc <= 3) {
        burn_ms = -1;
        run_threads(argc == 3 ? parse_count(argv[2], use) : 1);
        return 0;
    }
    if (strcmp(argv[1], "memory") == 0 && argc == 3) {
        long mib = parse_count(argv[2], use);
        size_t size = (size_t)mib << 20;
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            result("burn", errno_name(errno), "memory_mib=%ld", mib);
            return 1;
        }
        for (size_t off = 0; off < size; off += 4096)
            p[off] = 1;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        result("burn", "OK", "memory_mib=%ld rss_kib=%ld", mib, ru.ru_maxrss);
        return 0;
    }
    usage(use);
}
