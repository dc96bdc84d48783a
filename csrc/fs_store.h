/* fs_store.h - storing a received object whose bytes are all in memory in one call: create
 * a temporary file (O_EXCL, mode 0600 while partial), write every span, give it its mode,
 * optionally fsync it, close it, rename it to its final name without replacing anything,
 * and optionally fsync the directory.
 *
 * Portable C (POSIX), no Python. The point is one call instead of six or seven: a caller
 * that holds a lock shared with other threads (an interpreter lock) releases it once for
 * the whole file instead of once per system call, and other threads do not queue up
 * behind each step. On platforms without POSIX files (Windows) UL_STORE_UNSUPPORTED and
 * the caller writes the file its own way.
 *
 * (DESIGN.md keeps csrc/ free of I/O: that is the protocol core, ul_*.c, which stays so.
 * fs_*.c are not part of it; only the storage layer's storage._fsops links them, to do
 * in one call what would otherwise be a system call per Python statement.)
 */
#ifndef DICOMUL_FS_STORE_H
#define DICOMUL_FS_STORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const void *data;
    size_t len;
} ul_span;

enum {
    UL_STORE_OK = 0,          /* the file is complete under dst                          */
    UL_STORE_TMP_EXISTS = 1,  /* tmp exists: nothing was done (pick another name)        */
    UL_STORE_DST_EXISTS = 2,  /* the file is complete under tmp; dst exists              */
    UL_STORE_NO_RENAME = 3,   /* complete under tmp; dst is NULL, or no no-replace rename */
    UL_STORE_ERROR = 4,       /* *err = errno, *stage = the step; tmp is removed          */
    UL_STORE_UNSUPPORTED = 5  /* not on this platform: nothing was done                  */
};

/* The steps, for *stage. */
enum { UL_STAGE_OPEN = 1, UL_STAGE_WRITE, UL_STAGE_CHMOD, UL_STAGE_FSYNC, UL_STAGE_CLOSE,
       UL_STAGE_RENAME, UL_STAGE_FSYNC_DIR };

/* Write spans[0..n) to a new file tmp with mode (after writing), fsync it if do_fsync,
 * then rename it to dst (NULL: leave it under tmp) unless dst exists; with do_fsync and
 * a rename, fsync directory dir too (NULL: not). Returns a code above. */
int ul_store_file(const char *tmp, const char *dst, const char *dir, const ul_span *spans,
                  size_t n, unsigned mode, int do_fsync, int *err, int *stage);

#ifdef __cplusplus
}
#endif
#endif
