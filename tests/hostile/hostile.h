/* Shared helpers for the hostile programs and the syscall probe (tests/hostile, tests/probe).
 *
 * Every program prints its findings on stdout as single lines:
 *
 *     RESULT <name> <outcome> [detail...]
 *
 * <name> and <outcome> are single tokens. <outcome> is an errno name (EPERM, ENOSYS, ...),
 * OK when the call succeeded, or a word chosen by the program (CONTAINED, ESCAPED, RUNNING,
 * ...). The detail is free text on the same line; it never contains a newline.
 *
 * Lines are written with one write(2) each, straight to fd 1, without stdio buffering: the
 * programs fork, get killed with SIGKILL and run out of memory, and a line must be either
 * complete on the pipe or absent, never duplicated by a fork or lost in a buffer.
 * Diagnostics for a human go to stderr and are not part of the protocol.
 *
 * Header-only, static functions: each program is one .c file built as a static binary.
 */
#ifndef CELLBLOCK_HOSTILE_H
#define CELLBLOCK_HOSTILE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOSTILE_UNUSED __attribute__((unused))
#define HOSTILE_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The errno's symbolic name: "EPERM", "ENOSYS", ... Our own table, not strerrorname_np(),
 * so that the names stay the same whatever libc a program is built against. */
static HOSTILE_UNUSED const char *errno_name(int err)
{
    switch (err) {
#define E(x) case x: return #x
    E(EPERM); E(ENOENT); E(ESRCH); E(EINTR); E(EIO); E(ENXIO); E(E2BIG); E(ENOEXEC);
    E(EBADF); E(ECHILD); E(EAGAIN); E(ENOMEM); E(EACCES); E(EFAULT); E(ENOTBLK); E(EBUSY);
    E(EEXIST); E(EXDEV); E(ENODEV); E(ENOTDIR); E(EISDIR); E(EINVAL); E(ENFILE); E(EMFILE);
    E(ENOTTY); E(ETXTBSY); E(EFBIG); E(ENOSPC); E(ESPIPE); E(EROFS); E(EMLINK); E(EPIPE);
    E(EDOM); E(ERANGE); E(EDEADLK); E(ENAMETOOLONG); E(ENOLCK); E(ENOSYS); E(ENOTEMPTY);
    E(ELOOP); E(ENOMSG); E(EIDRM); E(ENODATA); E(ETIME); E(ENOLINK); E(EPROTO); E(EBADMSG);
    E(EOVERFLOW); E(EILSEQ); E(EUSERS); E(ENOTSOCK); E(EDESTADDRREQ); E(EMSGSIZE);
    E(EPROTOTYPE); E(ENOPROTOOPT); E(EPROTONOSUPPORT); E(ESOCKTNOSUPPORT); E(EOPNOTSUPP);
    E(EPFNOSUPPORT); E(EAFNOSUPPORT); E(EADDRINUSE); E(EADDRNOTAVAIL); E(ENETDOWN);
    E(ENETUNREACH); E(ENETRESET); E(ECONNABORTED); E(ECONNRESET); E(ENOBUFS); E(EISCONN);
    E(ENOTCONN); E(ESHUTDOWN); E(ETOOMANYREFS); E(ETIMEDOUT); E(ECONNREFUSED); E(EHOSTDOWN);
    E(EHOSTUNREACH); E(EALREADY); E(EINPROGRESS); E(ESTALE); E(EDQUOT); E(ECANCELED);
    E(ENOKEY); E(EKEYEXPIRED); E(EKEYREVOKED); E(EKEYREJECTED); E(EOWNERDEAD);
    E(ENOTRECOVERABLE); E(ENOMEDIUM); E(EMEDIUMTYPE);
#undef E
    case 0: return "OK";
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "E%d", err);
        return buf;
    }
    }
}

/* "SIGKILL", "SIGSYS", ... for the signals a sandbox uses; "SIG<n>" for the rest. */
static HOSTILE_UNUSED const char *signal_name(int sig)
{
    switch (sig) {
#define S(x) case x: return #x
    S(SIGHUP); S(SIGINT); S(SIGQUIT); S(SIGILL); S(SIGTRAP); S(SIGABRT); S(SIGBUS); S(SIGFPE);
    S(SIGKILL); S(SIGUSR1); S(SIGSEGV); S(SIGUSR2); S(SIGPIPE); S(SIGALRM); S(SIGTERM);
    S(SIGCHLD); S(SIGCONT); S(SIGSTOP); S(SIGTSTP); S(SIGTTIN); S(SIGTTOU); S(SIGXCPU);
    S(SIGXFSZ); S(SIGSYS);
#undef S
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "SIG%d", sig);
        return buf;
    }
    }
}

/* write(2) until done; EINTR is retried, anything else gives up (the reader is gone). */
static HOSTILE_UNUSED void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Prints one protocol line. fmt may be "" for no detail. Keeps errno unchanged. */
static HOSTILE_UNUSED void vresult(const char *name, const char *outcome, const char *fmt,
                                   va_list ap)
{
    int saved = errno;
    char detail[1536] = "";
    if (fmt)
        vsnprintf(detail, sizeof detail, fmt, ap);
    char line[2048];
    int n = detail[0] ? snprintf(line, sizeof line - 1, "RESULT %s %s %s", name, outcome, detail)
                      : snprintf(line, sizeof line - 1, "RESULT %s %s", name, outcome);
    if (n < 0)
        return;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2; /* truncated, still one line */
    /* One line, whatever the detail contains (paths, hostnames, readlink targets). */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    write_all(STDOUT_FILENO, line, (size_t)n);
    errno = saved;
}

static HOSTILE_UNUSED HOSTILE_PRINTF(3, 4) void result(const char *name, const char *outcome,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vresult(name, outcome, fmt, ap);
    va_end(ap);
}

/* RESULT <name> OK|<errno name> [detail]: err is 0 for success, else an errno value. */
static HOSTILE_UNUSED HOSTILE_PRINTF(3, 4) void result_errno(const char *name, int err,
                                                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vresult(name, errno_name(err), fmt, ap);
    va_end(ap);
}

/* RESULT <name> <outcome> with no detail. */
static HOSTILE_UNUSED void result_bare(const char *name, const char *outcome)
{
    result(name, outcome, "%s", "");
}

/* A line for a human on stderr, prefixed with the program name. */
static HOSTILE_UNUSED HOSTILE_PRINTF(2, 3) void note(const char *prog, const char *fmt, ...)
{
    int saved = errno;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", prog);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (m < 0) ? n : (n + m > (int)sizeof line - 2 ? (int)sizeof line - 2 : n + m);
    line[n++] = '\n';
    write_all(STDERR_FILENO, line, (size_t)n);
    errno = saved;
}

/* Usage errors are the only non-zero exit of a program that ran its check. */
static HOSTILE_UNUSED __attribute__((noreturn)) void usage(const char *text)
{
    write_all(STDERR_FILENO, "usage: ", 7);
    write_all(STDERR_FILENO, text, strlen(text));
    write_all(STDERR_FILENO, "\n", 1);
    exit(2);
}

/* A non-negative decimal argument, or a usage error. */
static HOSTILE_UNUSED long parse_count(const char *s, const char *usage_text)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        usage(usage_text);
    return v;
}

/* Sleeps without depending on SIGALRM (a program may have blocked or ignored it). */
static HOSTILE_UNUSED void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* 1 if we run in the host's initial namespace of kind ns ("pid" or "uts"), 0 if not, -1 if
 * it cannot tell. The initial namespaces have fixed inode numbers (PROC_PID_INIT_INO and
 * PROC_UTS_INIT_INO in include/linux/proc_ns.h). */
static HOSTILE_UNUSED int in_initial_namespace(const char *ns)
{
    char path[64], link[64], want[64];
    unsigned long ino = strcmp(ns, "uts") == 0 ? 0xEFFFFFFEUL : 0xEFFFFFFCUL;
    snprintf(path, sizeof path, "/proc/self/ns/%s", ns);
    snprintf(want, sizeof want, "%s:[%lu]", ns, ino);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return -1;
    link[n] = '\0';
    return strcmp(link, want) == 0;
}

/* The programs that signal "every process", trace "PID 1", rename "the machine" or remount
 * "the" filesystems would do it to the host when run there by mistake. They call this first:
 * it exits with a usage error in the host's initial namespace of kind ns unless argv has
 * --force. A cell always has its own pid and UTS namespaces. */
static HOSTILE_UNUSED void refuse_on_host(const char *prog, int argc, char **argv, const char *ns)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--force") == 0)
            return;
    int initial = in_initial_namespace(ns);
    if (initial == 0)
        return;
    note(prog, "%s %s namespace; run me in a sandbox (or e.g. `unshare -fp --mount-proc`, "
               "`unshare -u`), or pass --force",
         initial > 0 ? "refusing to run in the host's initial" : "cannot check the", ns);
    exit(2);
}

#endif /* CELLBLOCK_HOSTILE_H */
