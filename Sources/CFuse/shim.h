// The libfuse3 low-level API as FuseKit sees it. FUSE_USE_VERSION must be set
// before the headers, and a module map cannot pass -D, so it lives here.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/xattr.h>

// fuse_args is initialised by a macro (FUSE_ARGS_INIT) Swift cannot call.
static inline struct fuse_args cfuse_args(int argc, char **argv) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    return args;
}
