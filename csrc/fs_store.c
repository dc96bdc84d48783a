/* fs_store.c - see fs_store.h. */
#if !defined(_WIN32)
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#include "fs_rename.h"
#include "fs_store.h"

#if !defined(_WIN32)
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif

static int write_all(int fd, const ul_span *span) {
    const char *p = (const char *)span->data;
    size_t left = span->len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

static int fail(int fd, const char *tmp, int stage, int *err, int *stage_out) {
    *err = errno;
    *stage_out = stage;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return UL_STORE_ERROR;
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort, as the Python path */
        close(fd);
    }
}
#endif

int ul_store_file(const char *tmp, const char *dst, const char *dir, const ul_span *spans,
                  size_t n, unsigned mode, int do_fsync, int *err, int *stage) {
    *err = 0;
    *stage = 0;
#if defined(_WIN32)
    (void)tmp; (void)dst; (void)dir; (void)spans; (void)n; (void)mode; (void)do_fsync;
    return UL_STORE_UNSUPPORTED;
#else
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return UL_STORE_TMP_EXISTS;
        *err = errno;
        *stage = UL_STAGE_OPEN;
        return UL_STORE_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        if (write_all(fd, &spans[i]) != 0)
            return fail(fd, tmp, UL_STAGE_WRITE, err, stage);
    if (fchmod(fd, (mode_t)mode) != 0)
        return fail(fd, tmp, UL_STAGE_CHMOD, err, stage);
    if (do_fsync && fsync(fd) != 0)
        return fail(fd, tmp, UL_STAGE_FSYNC, err, stage);
    if (close(fd) != 0)
        return fail(-1, tmp, UL_STAGE_CLOSE, err, stage);
    if (dst == NULL)
        return UL_STORE_NO_RENAME;
    int rerr = 0;
    switch (ul_rename_noreplace(tmp, dst, &rerr)) {
    case UL_RENAME_OK:
        if (do_fsync && dir != NULL)
            fsync_dir(dir);
        return UL_STORE_OK;
    case UL_RENAME_EXISTS:
        return UL_STORE_DST_EXISTS;
    case UL_RENAME_UNSUPPORTED:
        return UL_STORE_NO_RENAME;
    default:
        errno = rerr;
        return fail(-1, tmp, UL_STAGE_RENAME, err, stage);
    }
#endif
}
