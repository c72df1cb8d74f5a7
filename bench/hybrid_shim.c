/* hybrid_shim: runs a command (crun) in a private mount namespace whose cgroup mounts are
 * rearranged so that an OCI runtime works on a hybrid-cgroup host and creates its cgroups only
 * below the cgroups this process is already in.
 *
 *   hybrid_shim COMMAND [ARGS...]
 *
 * Two changes, both visible only inside the new mount namespace and gone when it is:
 *
 *  1. The cgroup2 mount at /sys/fs/cgroup/unified is unmounted. crun 1.8 refuses to start
 *     anything on a hybrid host whose cgroup2 hierarchy has any controller listed in
 *     cgroup.controllers ("cgroups in hybrid mode not supported, drop all controllers from
 *     cgroupv2"), and on this kind of host hugetlb is listed there because no v1 hierarchy
 *     took it. Without the mount crun sees a plain cgroup v1 host.
 *  2. For every v1 hierarchy in which this process is not in the root cgroup, the process's
 *     own cgroup directory is bind-mounted over the hierarchy's mount point. crun turns a
 *     relative cgroupsPath (or its default, the container id) into "/ID" from the hierarchy
 *     root, unlike runc, which goes from the caller's cgroup; with the bind mount "/ID" lands
 *     below our own cgroup, which is the only place a benchmark may create cgroups.
 *
 * Then it execs COMMAND. Its cost (one exec, unshare, a few mount calls) is measured as a
 * separate row in the benchmark, `hybrid_shim BUSYBOX_TRUE`, so it can be told apart from
 * crun's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static void die(const char* what, const char* arg) {
  fprintf(stderr, "hybrid_shim: %s(\"%s\"): %s\n", what, arg, strerror(errno));
  exit(125);
}

/* Is the comma-separated `name` in the comma-separated `list`? */
static int in_list(const char* list, const char* name, size_t name_len) {
  const char* p = list;
  while (*p) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == name_len && strncmp(p, name, len) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* Do the mount's super options name exactly the controllers of one /proc/self/cgroup line?
 * Both are comma lists; "name=systemd" counts as a controller. */
static int same_hierarchy(const char* super_opts, const char* controllers) {
  /* every controller is in the options... */
  const char* p = controllers;
  while (*p) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (!in_list(super_opts, p, len)) return 0;
    if (!comma) break;
    p = comma + 1;
  }
  /* ...and every controller-like option is in the controllers (rw, relatime etc. are not). */
  static const char* const generic[] = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec",
                                        "clone_children", "xattr", "noprefix", "cpuset_v2_mode", NULL};
  p = super_opts;
  while (*p) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    int is_generic = 0;
    for (int i = 0; generic[i]; i++)
      if (strlen(generic[i]) == len && strncmp(p, generic[i], len) == 0) is_generic = 1;
    /* key=value options (release_agent=...) are not controllers; name=X is one. */
    if (memchr(p, '=', len) && !(len > 5 && strncmp(p, "name=", 5) == 0)) is_generic = 1;
    if (!is_generic && !in_list(controllers, p, len)) return 0;
    if (!comma) break;
    p = comma + 1;
  }
  return 1;
}

/* Bind-mounts our own cgroup of every v1 hierarchy over that hierarchy's mount point. */
static void bind_own_cgroups(void) {
  FILE* cg = fopen("/proc/self/cgroup", "re");
  if (!cg) die("fopen", "/proc/self/cgroup");
  char line[4096];
  while (fgets(line, sizeof line, cg)) {
    line[strcspn(line, "\n")] = '\0';
    /* "ID:CONTROLLERS:PATH"; the v2 line has empty CONTROLLERS and is left alone. */
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char* controllers = c1 + 1;
    const char* path = c2 + 1;
    if (!*controllers || strcmp(path, "/") == 0) continue;

    FILE* mi = fopen("/proc/self/mountinfo", "re");
    if (!mi) die("fopen", "/proc/self/mountinfo");
    char ml[8192];
    while (fgets(ml, sizeof ml, mi)) {
      /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
      char root[4096], point[4096];
      if (sscanf(ml, "%*s %*s %*s %4095s %4095s", root, point) != 2) continue;
      char* dash = strstr(ml, " - ");
      if (!dash) continue;
      char fstype[64], source[256], super_opts[1024];
      if (sscanf(dash + 3, "%63s %255s %1023s", fstype, source, super_opts) != 3) continue;
      if (strcmp(fstype, "cgroup") != 0 || !same_hierarchy(super_opts, controllers)) continue;
      /* The mount shows ROOT of the hierarchy; our cgroup must lie below it. */
      size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
      if (strncmp(path, root, rl) != 0) continue;
      char own[8192];
      snprintf(own, sizeof own, "%s%s", point, path + rl);
      if (mount(own, point, NULL, MS_BIND, NULL) != 0) die("mount MS_BIND", own);
      break;
    }
    fclose(mi);
  }
  fclose(cg);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: hybrid_shim COMMAND [ARGS...]\n");
    return 125;
  }
  if (unshare(CLONE_NEWNS) != 0) die("unshare", "CLONE_NEWNS");
  /* Nothing we change here may propagate back to the host's mount namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("mount MS_REC|MS_PRIVATE", "/");
  struct statfs fs;
  if (statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
    if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0) die("umount2", "/sys/fs/cgroup/unified");
  }
  bind_own_cgroups();
  execvp(argv[1], argv + 1);
  die("execvp", argv[1]);
  return 125;
}
