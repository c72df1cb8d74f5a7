/* attach_probe: how long does moving one process into a cgroup take, depending on how long
 * ago the previous move was? Every sandbox that puts a job in a cgroup pays this once per job.
 *
 *   attach_probe [-n MOVES] [HIERARCHY_DIR]
 *
 * HIERARCHY_DIR defaults to /sys/fs/cgroup/pids on a v1 or hybrid host and /sys/fs/cgroup on a
 * v2 host. A sleeping child is moved back and forth between our own cgroup in that hierarchy
 * and a fresh child cgroup of it (cbb-attach-PID, removed at the end), with pauses of 0, 2, 10,
 * 30 and 100 ms between moves. Each write to cgroup.procs is timed with CLOCK_MONOTONIC.
 *
 * Why it matters: the write takes cgroup_threadgroup_rwsem for writing, a per-CPU rwsem whose
 * writer waits for an RCU grace period (rcu_sync_enter) unless another writer was there
 * recently, in which case the grace period is skipped. So back-to-back attaches are cheap and
 * an attach after an idle pause costs a whole grace period, several ms on an idle NO_HZ kernel.
 * (Kernels since 6.0 have the "favordynmods" cgroup mount option that avoids this.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif


static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Is `name` one of the comma-separated controllers in `list` ("name=systemd" matches "systemd")? */
static int has_controller(const char* list, const char* name) {
  size_t n = strlen(name);
  for (const char* p = list; *p;) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len > 5 && strncmp(p, "name=", 5) == 0) p += 5, len -= 5;
    if (len == n && strncmp(p, name, n) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* Our own cgroup path in the hierarchy mounted at `mount_dir`: the v2 line ("0::") for a
 * cgroup2 mount, else the v1 line whose controllers include the mount's last path element. */
static int own_cgroup(const char* mount_dir, int v2, char* out, size_t out_len) {
  const char* base = strrchr(mount_dir, '/');
  base = base ? base + 1 : mount_dir;
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (!f) return -1;
  char line[4096];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char* ctl = c1 + 1;
    if (v2 ? *ctl == '\0' : has_controller(ctl, base)) {
      snprintf(out, out_len, "%s", c2 + 1);
      found = 0;
    }
  }
  fclose(f);
  return found;
}

static long long move(const char* procs, pid_t pid) {
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%d", (int)pid);
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "attach_probe: open(\"%s\"): %s\n", procs, strerror(errno));
    return -1;
  }
  long long t0 = now_ns();
  ssize_t n = write(fd, buf, (size_t)len);
  long long t1 = now_ns();
  int err = errno;
  close(fd);
  if (n != len) {
    fprintf(stderr, "attach_probe: write(\"%s\", %s): %s\n", procs, buf, strerror(err));
    return -1;
  }
  return t1 - t0;
}

int main(int argc, char** argv) {
  int moves = 20, opt;
  while ((opt = getopt(argc, argv, "n:")) != -1) {
    if (opt == 'n') moves = atoi(optarg);
    else {
      fprintf(stderr, "usage: attach_probe [-n MOVES] [HIERARCHY_DIR]\n");
      return 2;
    }
  }
  if (moves < 2) moves = 2;
  moves += moves % 2; /* even: the child ends each series back home */
  struct statfs fs;
  int v2 = statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
  const char* hier = optind < argc ? argv[optind] : (v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids");
  if (optind < argc) v2 = statfs(hier, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
  char own[4096];
  if (own_cgroup(hier, v2, own, sizeof own) != 0) {
    fprintf(stderr, "attach_probe: cannot find our own cgroup for %s in /proc/self/cgroup\n", hier);
    return 1;
  }
  char home[8192], probe[8256], home_procs[8320], probe_procs[8320];
  snprintf(home, sizeof home, "%s%s", hier, strcmp(own, "/") == 0 ? "" : own);
  snprintf(probe, sizeof probe, "%s/cbb-attach-%d", home, (int)getpid());
  snprintf(home_procs, sizeof home_procs, "%s/cgroup.procs", home);
  snprintf(probe_procs, sizeof probe_procs, "%s/cgroup.procs", probe);
  if (mkdir(probe, 0755) != 0) {
    fprintf(stderr, "attach_probe: mkdir(\"%s\"): %s\n", probe, strerror(errno));
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("attach_probe: fork");
    rmdir(probe);
    return 1;
  }
  if (child == 0) {
    for (;;) pause();
  }
  static const int gaps[] = {0, 2, 10, 30, 100};
  long long* ns = calloc((size_t)moves, sizeof *ns);
  int rc = 0;
  printf("attach_probe: moving one process into a cgroup under %s, %d moves per pause:\n", home, moves);
  for (size_t g = 0; g < sizeof gaps / sizeof gaps[0] && rc == 0; g++) {
    for (int i = 0; i < moves; i++) {
      sleep_ms(gaps[g]);
      ns[i] = move(i % 2 ? home_procs : probe_procs, child);
      if (ns[i] < 0) {
        rc = 1;
        break;
      }
    }
    if (rc) break;
    qsort(ns, (size_t)moves, sizeof *ns, cmp_ll);
    printf("  pause %3d ms before each move: median %.3f ms, min %.3f ms, max %.3f ms\n", gaps[g],
           ns[moves / 2] / 1e6, ns[0] / 1e6, ns[moves - 1] / 1e6);
  }
  /* Back home before the cgroup is removed; kill and reap the child. */
  move(home_procs, child);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  if (rmdir(probe) != 0) {
    fprintf(stderr, "attach_probe: rmdir(\"%s\"): %s\n", probe, strerror(errno));
    rc = 1;
  }
  free(ns);
  return rc;
}
