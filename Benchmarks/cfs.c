/*
 * cfs: a minimal libfuse3 low-level file system, the cost floor of FUSE for
 * scripts/bench.sh. It serves, from memory, the tree the benchmark reads:
 *
 *   /p/dev/hello          one file of VALUE_SIZE bytes
 *   /p/dev/d/K00001...    --small N files (default 1000)
 *   /p/dev/big/K00001...  --big N files (default 10000)
 *
 * Every file holds bench_value(i) (see bench_value.h), the same bytes the
 * benchmark writes into tmpfs and infisicalfs, so the three are compared on
 * the same files. The kernel-cache settings are switches, so the script can
 * give it exactly the settings infisicalfs uses:
 *
 *   --timeout S        entry and attribute timeout in seconds (default 1)
 *   --keep-cache       fi->keep_cache = 1 on open (page cache kept across opens)
 *   --direct-io        fi->direct_io = 1 on open (every read reaches the file system)
 *   --noflush          fi->noflush = 1 on open (no FLUSH on close)
 *   --no-open          reply ENOSYS to open and flush (kernel stops sending
 *                      OPEN, FLUSH and RELEASE)
 *   --cache-readdir    fi->cache_readdir = 1 and keep_cache on opendir
 *   --no-auto-inval    clear FUSE_CAP_AUTO_INVAL_DATA in init
 *   --ro               mount read-only (-o ro)
 *   --threads N        max threads of the multithreaded loop (default 16)
 *   --small N, --big N sizes of /p/dev/d and /p/dev/big
 *
 * Usage: cfs [switches] MOUNTPOINT   (always in the foreground; SIGTERM or
 * fusermount3 -u ends it).
 *
 * Build: gcc -O2 -Wall -o cfs cfs.c $(pkg-config --cflags --libs fuse3)
 */
#define FUSE_USE_VERSION 314
#define _GNU_SOURCE
#include <fuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_value.h"

enum { INO_ROOT = 1, INO_P = 2, INO_DEV = 3, INO_HELLO = 4, INO_D = 5, INO_BIG = 6 };
#define SMALL_BASE 1000000ULL /* inodes of /p/dev/d/K%05d: SMALL_BASE + i */
#define BIG_BASE 2000000ULL   /* inodes of /p/dev/big/K%05d: BIG_BASE + i */

static double timeout_s = 1.0;
static int keep_cache, direct_io, noflush, no_open, cache_readdir, no_auto_inval, read_only;
static unsigned small_n = 1000, big_n = 10000, max_threads = 16;

static int is_dir(fuse_ino_t ino) { return ino >= INO_ROOT && ino <= INO_BIG && ino != INO_HELLO; }

static int valid_file(fuse_ino_t ino) {
    if (ino == INO_HELLO) return 1;
    if (ino > SMALL_BASE && ino <= SMALL_BASE + small_n) return 1;
    if (ino > BIG_BASE && ino <= BIG_BASE + big_n) return 1;
    return 0;
}

static unsigned file_index(fuse_ino_t ino) {
    if (ino == INO_HELLO) return 0;
    return (unsigned)(ino >= BIG_BASE ? ino - BIG_BASE : ino - SMALL_BASE);
}

static int fill_stat(fuse_ino_t ino, struct stat *st) {
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = 1700000000;
    if (is_dir(ino)) {
        st->st_mode = S_IFDIR | (read_only ? 0500 : 0700);
        st->st_nlink = 2;
        st->st_size = 4096;
        return 0;
    }
    if (!valid_file(ino)) return ENOENT;
    st->st_mode = S_IFREG | (read_only ? 0400 : 0600);
    st->st_nlink = 1;
    st->st_size = BENCH_VALUE_SIZE;
    st->st_blksize = 4096;
    st->st_blocks = 1;
    return 0;
}

/* Children of a directory: returns the count; child(k) gives inode and name. */
static unsigned child_count(fuse_ino_t dir) {
    switch (dir) {
    case INO_ROOT: return 1;
    case INO_P: return 1;
    case INO_DEV: return 3;
    case INO_D: return small_n;
    case INO_BIG: return big_n;
    default: return 0;
    }
}

static fuse_ino_t child(fuse_ino_t dir, unsigned k, char *name, size_t size) {
    switch (dir) {
    case INO_ROOT: snprintf(name, size, "p"); return INO_P;
    case INO_P: snprintf(name, size, "dev"); return INO_DEV;
    case INO_DEV:
        if (k == 0) { snprintf(name, size, "d"); return INO_D; }
        if (k == 1) { snprintf(name, size, "big"); return INO_BIG; }
        snprintf(name, size, "hello");
        return INO_HELLO;
    case INO_D: snprintf(name, size, "K%05u", k + 1); return SMALL_BASE + k + 1;
    case INO_BIG: snprintf(name, size, "K%05u", k + 1); return BIG_BASE + k + 1;
    default: return 0;
    }
}

static fuse_ino_t parent_of(fuse_ino_t dir) {
    switch (dir) {
    case INO_P: return INO_ROOT;
    case INO_DEV: return INO_P;
    case INO_D: case INO_BIG: return INO_DEV;
    default: return INO_ROOT;
    }
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
    (void)userdata;
    if (no_auto_inval) conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    fuse_ino_t ino = 0;
    if (parent == INO_ROOT && strcmp(name, "p") == 0) ino = INO_P;
    else if (parent == INO_P && strcmp(name, "dev") == 0) ino = INO_DEV;
    else if (parent == INO_DEV && strcmp(name, "hello") == 0) ino = INO_HELLO;
    else if (parent == INO_DEV && strcmp(name, "d") == 0) ino = INO_D;
    else if (parent == INO_DEV && strcmp(name, "big") == 0) ino = INO_BIG;
    else if ((parent == INO_D || parent == INO_BIG) && name[0] == 'K' && strlen(name) == 6) {
        char *end;
        unsigned long i = strtoul(name + 1, &end, 10);
        unsigned n = parent == INO_D ? small_n : big_n;
        if (*end == 0 && i >= 1 && i <= n) ino = (parent == INO_D ? SMALL_BASE : BIG_BASE) + i;
    }
    if (ino == 0) { fuse_reply_err(req, ENOENT); return; }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = ino;
    e.attr_timeout = timeout_s;
    e.entry_timeout = timeout_s;
    fill_stat(ino, &e.attr);
    fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
    (void)ino; (void)n;
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
    (void)count; (void)forgets;
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    struct stat st;
    int err = fill_stat(ino, &st);
    if (err) fuse_reply_err(req, err);
    else fuse_reply_attr(req, &st, timeout_s);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if (no_open) { fuse_reply_err(req, ENOSYS); return; }
    if (is_dir(ino)) { fuse_reply_err(req, EISDIR); return; }
    if (!valid_file(ino)) { fuse_reply_err(req, ENOENT); return; }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) { fuse_reply_err(req, read_only ? EROFS : EACCES); return; }
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->direct_io = direct_io ? 1 : 0;
    fi->noflush = noflush ? 1 : 0;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)fi;
    if (!valid_file(ino)) { fuse_reply_err(req, ENOENT); return; }
    char value[BENCH_VALUE_SIZE];
    bench_value(file_index(ino), value);
    if (off >= BENCH_VALUE_SIZE) { fuse_reply_buf(req, NULL, 0); return; }
    size_t left = BENCH_VALUE_SIZE - (size_t)off;
    fuse_reply_buf(req, value + off, size < left ? size : left);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino; (void)fi;
    /* With no-open nothing can need a flush: ENOSYS stops FLUSH mount-wide. */
    if (no_open) { fuse_reply_err(req, ENOSYS); return; }
    fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino; (void)fi;
    fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if (!is_dir(ino)) { fuse_reply_err(req, ENOTDIR); return; }
    if (cache_readdir) {
        fi->cache_readdir = 1;
        fi->keep_cache = 1;
    }
    fuse_reply_open(req, fi);
}

/* Offsets: 1 = ".", 2 = "..", 3 + k = child k. */
static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)fi;
    if (!is_dir(ino)) { fuse_reply_err(req, ENOTDIR); return; }
    char *buf = malloc(size);
    if (!buf) { fuse_reply_err(req, ENOMEM); return; }
    size_t used = 0;
    unsigned n = child_count(ino);
    struct stat st;
    memset(&st, 0, sizeof st);
    for (off_t o = off; o < (off_t)n + 2; o++) {
        char name[32];
        fuse_ino_t cino;
        if (o == 0) { snprintf(name, sizeof name, "."); cino = ino; }
        else if (o == 1) { snprintf(name, sizeof name, ".."); cino = parent_of(ino); }
        else cino = child(ino, (unsigned)(o - 2), name, sizeof name);
        st.st_ino = cino;
        st.st_mode = is_dir(cino) ? S_IFDIR : S_IFREG;
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, o + 1);
        if (need > size - used) break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino; (void)fi;
    fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .flush = op_flush,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
};

static void usage(void) {
    fprintf(stderr, "usage: cfs [--timeout S] [--keep-cache] [--direct-io] [--noflush] [--no-open] [--cache-readdir]\n"
                    "           [--no-auto-inval] [--ro] [--threads N] [--small N] [--big N] MOUNTPOINT\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *mountpoint = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--timeout") && i + 1 < argc) timeout_s = atof(argv[++i]);
        else if (!strcmp(a, "--keep-cache")) keep_cache = 1;
        else if (!strcmp(a, "--direct-io")) direct_io = 1;
        else if (!strcmp(a, "--noflush")) noflush = 1;
        else if (!strcmp(a, "--no-open")) no_open = 1;
        else if (!strcmp(a, "--cache-readdir")) cache_readdir = 1;
        else if (!strcmp(a, "--no-auto-inval")) no_auto_inval = 1;
        else if (!strcmp(a, "--ro")) read_only = 1;
        else if (!strcmp(a, "--threads") && i + 1 < argc) max_threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--small") && i + 1 < argc) small_n = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--big") && i + 1 < argc) big_n = (unsigned)atoi(argv[++i]);
        else if (a[0] != '-' && !mountpoint) mountpoint = a;
        else usage();
    }
    if (!mountpoint || small_n > 99999 || big_n > 99999) usage();

    /* The same kernel mount options infisicalfs passes (FuseKit's optionString). */
    char opts[256];
    snprintf(opts, sizeof opts, "fsname=cfs,subtype=cfs,default_permissions%s", read_only ? ",ro" : "");
    char *fargv[] = {"cfs", "-o", opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!se) return 1;
    if (fuse_set_signal_handlers(se) != 0) return 1;
    if (fuse_session_mount(se, mountpoint) != 0) return 1;
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_clone_fd(config, 0);
    int status = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return status < 0 ? 1 : 0;
}
