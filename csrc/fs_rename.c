/* fs_rename.c - see fs_rename.h. */
#if defined(__linux__)
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
/* Old kernel headers (manylinux2014's) may lack the number: the kernel's own, per arch. */
#ifndef SYS_renameat2
#if defined(__x86_64__) && !defined(__ILP32__)
#define SYS_renameat2 316
#elif defined(__i386__)
#define SYS_renameat2 353
#elif defined(__aarch64__)
#define SYS_renameat2 276
#elif defined(__powerpc64__)
#define SYS_renameat2 357
#elif defined(__s390x__)
#define SYS_renameat2 347
#endif
#endif
#ifndef AT_FDCWD
#define AT_FDCWD -100
#endif
#define UL_NOREPLACE 1 /* RENAME_NOREPLACE, linux/fs.h */
#elif defined(__APPLE__)
#include <AvailabilityMacros.h>
#include <stdio.h>
#endif

#include <errno.h>

#include "fs_rename.h"

int ul_rename_noreplace(const char *src, const char *dst, int *err) {
    *err = 0;
#if defined(__linux__) && defined(SYS_renameat2)
    if (syscall(SYS_renameat2, AT_FDCWD, src, AT_FDCWD, dst, UL_NOREPLACE) == 0)
        return UL_RENAME_OK;
    if (errno == EEXIST)
        return UL_RENAME_EXISTS;
    if (errno == ENOSYS || errno == EINVAL || errno == ENOTSUP || errno == EPERM)
        return UL_RENAME_UNSUPPORTED; /* an old kernel, or a file system without the flag */
    *err = errno;
    return UL_RENAME_ERROR;
#elif defined(__APPLE__) && defined(RENAME_EXCL)
    if (renamex_np(src, dst, RENAME_EXCL) == 0)
        return UL_RENAME_OK;
    if (errno == EEXIST)
        return UL_RENAME_EXISTS;
    if (errno == ENOTSUP || errno == EINVAL || errno == ENOSYS)
        return UL_RENAME_UNSUPPORTED;
    *err = errno;
    return UL_RENAME_ERROR;
#else
    (void)src;
    (void)dst;
    return UL_RENAME_UNSUPPORTED;
#endif
}
