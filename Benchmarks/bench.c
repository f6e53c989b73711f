/*
 * bench: the timed loops of scripts/bench.sh. No dependencies but libc and
 * pthreads. Every command prints one line of "key value" pairs.
 *
 *   bench openreadclose PATH SECONDS   open + read + close of one file      -> ops_per_s
 *   bench stat PATH SECONDS            stat() of one path                    -> ops_per_s
 *   bench readdir DIR SECONDS          opendir + read all + closedir         -> ops_per_s entries
 *   bench lsl DIR SECONDS              readdir + lstat of every entry (ls -l) -> ops_per_s entries
 *   bench coldreads N PREFIX           N threads, started together, each open+read+close of
 *                                      PREFIX%05d (1..N)                     -> wall_s max_thread_s errors
 *   bench mktree ROOT SMALL BIG        writes ROOT/p/dev/{hello,d/K%05d,big/K%05d}   -> seconds
 *   bench readn DIR N COUNT            COUNT reads cycling over DIR/K00001..K%05d(N),
 *                                      content checked                       -> seconds reads
 *   bench ready PROBE TIMEOUT_S MODE -- CMD ARGS...
 *                                      runs CMD and measures the time until stat(PROBE)
 *                                      succeeds. MODE "wait": CMD must exit 0 first (a
 *                                      detached mount); MODE "poll": CMD keeps running
 *                                      (--foreground), PROBE is polled  -> ready_ms pid
 *
 * A loop that meets an error stops with exit status 1 and a message: the
 * benchmark never reports the speed of a failing call.
 *
 * Build: gcc -O2 -Wall -pthread -o bench bench.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_value.h"

extern char **environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int read_file(const char *path, char *buf, size_t size, ssize_t *got) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    *got = read(fd, buf, size);
    int saved = errno;
    close(fd);
    errno = saved;
    return *got < 0 ? -1 : 0;
}

static int cmd_openreadclose(const char *path, double seconds) {
    char buf[4096];
    long ops = 0;
    double start = now(), end = start + seconds, t;
    do {
        ssize_t got;
        if (read_file(path, buf, sizeof buf, &got) != 0) die("read", path);
        if (got <= 0) { errno = EIO; die("empty read", path); }
        ops++;
    } while ((t = now()) < end);
    printf("ops_per_s %.1f ops %ld seconds %.3f\n", ops / (t - start), ops, t - start);
    return 0;
}

static int cmd_stat(const char *path, double seconds) {
    struct stat st;
    long ops = 0;
    double start = now(), end = start + seconds, t;
    do {
        if (stat(path, &st) != 0) die("stat", path);
        ops++;
    } while ((t = now()) < end);
    printf("ops_per_s %.1f ops %ld seconds %.3f\n", ops / (t - start), ops, t - start);
    return 0;
}

/* One listing; with lstat_each, an lstat of every entry as ls -l does. */
static long list_once(const char *dir, int lstat_each) {
    DIR *d = opendir(dir);
    if (!d) die("opendir", dir);
    long n = 0;
    struct dirent *e;
    struct stat st;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
            continue;
        if (lstat_each && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) die("lstat", e->d_name);
        n++;
    }
    if (errno != 0) die("readdir", dir);
    closedir(d);
    return n;
}

static int cmd_list(const char *dir, double seconds, int lstat_each) {
    long ops = 0, entries = 0;
    double start = now(), end = start + seconds, t;
    do {
        entries = list_once(dir, lstat_each);
        ops++;
    } while ((t = now()) < end);
    printf("ops_per_s %.2f ops %ld seconds %.3f entries %ld\n", ops / (t - start), ops, t - start, entries);
    return 0;
}

struct cold {
    pthread_barrier_t *barrier;
    char path[4096];
    double seconds;
    int error;
};

static void *cold_thread(void *arg) {
    struct cold *c = arg;
    char buf[4096];
    ssize_t got;
    pthread_barrier_wait(c->barrier);
    double start = now();
    if (read_file(c->path, buf, sizeof buf, &got) != 0 || got <= 0) c->error = errno ? errno : EIO;
    c->seconds = now() - start;
    return NULL;
}

static int cmd_coldreads(int n, const char *prefix) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    struct cold *cs = calloc((size_t)n, sizeof *cs);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        cs[i].barrier = &barrier;
        snprintf(cs[i].path, sizeof cs[i].path, "%s%05d", prefix, i + 1);
        pthread_create(&ts[i], NULL, cold_thread, &cs[i]);
    }
    pthread_barrier_wait(&barrier);
    double start = now();
    for (int i = 0; i < n; i++) pthread_join(ts[i], NULL);
    double wall = now() - start, slowest = 0;
    int errors = 0;
    for (int i = 0; i < n; i++) {
        if (cs[i].seconds > slowest) slowest = cs[i].seconds;
        if (cs[i].error) {
            errors++;
            fprintf(stderr, "bench: cold read %s: %s\n", cs[i].path, strerror(cs[i].error));
        }
    }
    printf("wall_s %.4f max_thread_s %.4f errors %d\n", wall, slowest, errors);
    return errors ? 1 : 0;
}

static void write_value(const char *path, unsigned i) {
    char value[BENCH_VALUE_SIZE];
    bench_value(i, value);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("create", path);
    if (write(fd, value, BENCH_VALUE_SIZE) != BENCH_VALUE_SIZE) die("write", path);
    if (close(fd) != 0) die("close", path);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0700) != 0 && errno != EEXIST) die("mkdir", path);
}

static int cmd_mktree(const char *root, int small, int big) {
    char path[4096];
    double start = now();
    make_dir(root);
    snprintf(path, sizeof path, "%s/p", root);
    make_dir(path); /* on infisicalfs this makes a project with dev, staging, prod */
    snprintf(path, sizeof path, "%s/p/dev", root);
    make_dir(path);
    snprintf(path, sizeof path, "%s/p/dev/hello", root);
    write_value(path, 0);
    const char *dirs[2] = {"d", "big"};
    int counts[2] = {small, big};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/p/dev/%s", root, dirs[k]);
        make_dir(path);
        for (int i = 1; i <= counts[k]; i++) {
            snprintf(path, sizeof path, "%s/p/dev/%s/K%05d", root, dirs[k], i);
            write_value(path, (unsigned)i);
        }
    }
    printf("seconds %.3f\n", now() - start);
    return 0;
}

static int cmd_readn(const char *dir, int n, long count) {
    char path[4096], buf[4096], want[BENCH_VALUE_SIZE];
    double start = now();
    for (long r = 0; r < count; r++) {
        int i = (int)(r % n) + 1;
        snprintf(path, sizeof path, "%s/K%05d", dir, i);
        ssize_t got;
        if (read_file(path, buf, sizeof buf, &got) != 0) die("read", path);
        bench_value((unsigned)i, want);
        if (got != BENCH_VALUE_SIZE || memcmp(buf, want, BENCH_VALUE_SIZE) != 0) {
            errno = EILSEQ;
            die("unexpected content in", path);
        }
    }
    printf("seconds %.3f reads %ld\n", now() - start, count);
    return 0;
}

static int cmd_ready(const char *probe, double timeout, const char *mode, char **cmd) {
    struct stat st;
    pid_t pid;
    double start = now();
    /* The command's stdin and stdout are /dev/null: a daemon that kept our
     * stdout would hold open the pipe of a shell's $(...) around us. */
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    int err = posix_spawn(&pid, cmd[0], &actions, NULL, cmd, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) { errno = err; die("spawn", cmd[0]); }
    if (strcmp(mode, "wait") == 0) {
        int status;
        if (waitpid(pid, &status, 0) < 0) die("waitpid", cmd[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench: %s exited with status %d\n", cmd[0], status);
            return 1;
        }
    }
    while (stat(probe, &st) != 0) {
        if (now() - start > timeout) {
            fprintf(stderr, "bench: %s did not appear within %.1f s\n", probe, timeout);
            printf("ready_ms -1 pid %d\n", (int)pid);
            return 1;
        }
        struct timespec pause = {0, 100000}; /* 0.1 ms */
        nanosleep(&pause, NULL);
    }
    printf("ready_ms %.2f pid %d\n", (now() - start) * 1000.0, (int)pid);
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench openreadclose PATH SECONDS | stat PATH SECONDS | readdir DIR SECONDS |\n"
            "             lsl DIR SECONDS | coldreads N PREFIX | mktree ROOT SMALL BIG |\n"
            "             readn DIR N COUNT | ready PROBE TIMEOUT_S wait|poll -- CMD ARGS...\n");
    exit(2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) usage();
    const char *c = argv[1];
    if (!strcmp(c, "openreadclose") && argc == 4) return cmd_openreadclose(argv[2], atof(argv[3]));
    if (!strcmp(c, "stat") && argc == 4) return cmd_stat(argv[2], atof(argv[3]));
    if (!strcmp(c, "readdir") && argc == 4) return cmd_list(argv[2], atof(argv[3]), 0);
    if (!strcmp(c, "lsl") && argc == 4) return cmd_list(argv[2], atof(argv[3]), 1);
    if (!strcmp(c, "coldreads") && argc == 4) return cmd_coldreads(atoi(argv[2]), argv[3]);
    if (!strcmp(c, "mktree") && argc == 5) return cmd_mktree(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(c, "readn") && argc == 5) return cmd_readn(argv[2], atoi(argv[3]), atol(argv[4]));
    if (!strcmp(c, "ready") && argc >= 7 && !strcmp(argv[5], "--"))
        return cmd_ready(argv[2], atof(argv[3]), argv[4], argv + 6);
    usage();
    return 2;
}
