/* bare_launch: the floor for launching a job. fork(), execv() and waitpid() of one program,
 * N times in a row, with no namespaces, no mounts and no cgroups; every sandbox costs at least
 * this much per job. Each iteration is timed with CLOCK_MONOTONIC from just before fork() to
 * just after waitpid() returns, the same window `compare` times around posix_spawn().
 *
 *   bare_launch [-n RUNS] [-w WARMUP] [-j] PROGRAM [ARGS...]
 *
 * PROGRAM is run by absolute or relative path (no PATH search) with stdin and stdout on
 * /dev/null; a run that does not exit 0 stops the benchmark with an error. Prints median,
 * p99, mean and min in milliseconds; -j prints them as one JSON object instead.
 *
 * Plain C on purpose: nothing between the clock reads but the three system calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"


static void usage(void) {
  fprintf(stderr, "usage: bare_launch [-n RUNS] [-w WARMUP] [-j] PROGRAM [ARGS...]\n");
  exit(2);
}

static long parse_count(const char* s, const char* what) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 100000000L) {
    fprintf(stderr, "bare_launch: %s: not a count: \"%s\"\n", what, s);
    exit(2);
  }
  return v;
}

/* One fork/exec/wait; returns the elapsed nanoseconds or exits on failure. */
static long long launch_once(char* const argv[], int devnull, long run) {
  long long t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    perror("bare_launch: fork()");
    exit(1);
  }
  if (pid == 0) {
    /* Only async-signal-safe calls between fork and exec. */
    dup2(devnull, 0);
    dup2(devnull, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("bare_launch: waitpid()");
      exit(1);
    }
  }
  long long t1 = now_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      fprintf(stderr, "bare_launch: run %ld: %s killed by signal %d\n", run, argv[0], WTERMSIG(status));
    else
      fprintf(stderr, "bare_launch: run %ld: %s exited with status %d%s\n", run, argv[0], WEXITSTATUS(status),
              WEXITSTATUS(status) == 127 ? " (127: could not execute it?)" : "");
    exit(1);
  }
  return t1 - t0;
}

int main(int argc, char** argv) {
  long runs = 1000, warmup = 50;
  int json = 0, opt;
  while ((opt = getopt(argc, argv, "+n:w:j")) != -1) {
    switch (opt) {
      case 'n': runs = parse_count(optarg, "-n"); break;
      case 'w': warmup = parse_count(optarg, "-w"); break;
      case 'j': json = 1; break;
      default: usage();
    }
  }
  if (optind >= argc || runs < 1) usage();
  char** prog = argv + optind;
  if (access(prog[0], X_OK) != 0) {
    fprintf(stderr, "bare_launch: access(\"%s\", X_OK): %s\n", prog[0], strerror(errno));
    return 1;
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    perror("bare_launch: open(\"/dev/null\")");
    return 1;
  }
  long long* ns = malloc(sizeof(long long) * (size_t)runs);
  if (!ns) {
    perror("bare_launch: malloc");
    return 1;
  }
  for (long i = 0; i < warmup; i++) launch_once(prog, devnull, -1 - i);
  long double sum = 0;
  for (long i = 0; i < runs; i++) {
    ns[i] = launch_once(prog, devnull, i);
    sum += ns[i];
  }
  qsort(ns, (size_t)runs, sizeof ns[0], cmp_ll);
  double median = runs % 2 ? ns[runs / 2] / 1e6 : (ns[runs / 2 - 1] + ns[runs / 2]) / 2e6;
  long p99_rank = (runs * 99 + 99) / 100; /* nearest rank: ceil(0.99 * runs) */
  double p99 = ns[p99_rank - 1] / 1e6;
  double mean = (double)(sum / runs) / 1e6;
  double min = ns[0] / 1e6;
  if (json)
    printf("{\"program\":\"%s\",\"runs\":%ld,\"warmup\":%ld,\"median_ms\":%.4f,\"p99_ms\":%.4f,"
           "\"mean_ms\":%.4f,\"min_ms\":%.4f}\n",
           prog[0], runs, warmup, median, p99, mean, min);
  else
    printf("bare_launch: %ld runs of %s (after %ld warm-up): median %.3f ms, p99 %.3f ms, mean %.3f ms, "
           "min %.3f ms\n",
           runs, prog[0], warmup, median, p99, mean, min);
  free(ns);
  return 0;
}
