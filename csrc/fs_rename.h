/* fs_rename.h - renaming a file without ever replacing another: the last step of storing a
 * received object (write a temporary file in the directory, then give it its name).
 *
 * Portable C11, no Python. One system call where the platform has one (Linux renameat2
 * with RENAME_NOREPLACE, macOS renamex_np with RENAME_EXCL); elsewhere, or on a file
 * system that refuses the flag, UL_RENAME_UNSUPPORTED and the caller falls back to
 * link + unlink (which also never replaces, but costs two directory updates, and on ext4
 * several times the time of a rename).
 */
#ifndef DICOMUL_FS_RENAME_H
#define DICOMUL_FS_RENAME_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    UL_RENAME_OK = 0,
    UL_RENAME_EXISTS = 1,       /* dst exists: nothing was changed                      */
    UL_RENAME_UNSUPPORTED = 2,  /* no such call here, or this file system refuses it    */
    UL_RENAME_ERROR = 3         /* another failure: *err holds errno                     */
};

/* Rename src to dst unless dst exists. Returns one of the codes above; *err gets errno
 * for UL_RENAME_ERROR (0 otherwise). */
int ul_rename_noreplace(const char *src, const char *dst, int *err);

#ifdef __cplusplus
}
#endif
#endif
