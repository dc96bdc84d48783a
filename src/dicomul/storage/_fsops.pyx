# cython: language_level=3
"""Compiled file system operations of the storage layer (csrc/fs_rename.c)."""

import os

cdef extern from "fs_rename.h":
    int UL_RENAME_OK, UL_RENAME_EXISTS, UL_RENAME_UNSUPPORTED
    int ul_rename_noreplace(const char *src, const char *dst, int *err) nogil


def rename_noreplace(src, dst):
    """Rename ``src`` to ``dst`` unless ``dst`` exists, in one system call: True when
    renamed, False when this platform or file system cannot (the caller falls back to
    link + unlink); FileExistsError when ``dst`` exists, OSError for other failures."""
    cdef bytes s = os.fsencode(src)
    cdef bytes d = os.fsencode(dst)
    cdef const char *sp = s
    cdef const char *dp = d
    cdef int err = 0
    cdef int rc
    with nogil:
        rc = ul_rename_noreplace(sp, dp, &err)
    if rc == UL_RENAME_OK:
        return True
    if rc == UL_RENAME_UNSUPPORTED:
        return False
    if rc == UL_RENAME_EXISTS:
        raise FileExistsError(17, os.strerror(17), os.fsdecode(d))
    raise OSError(err, os.strerror(err), os.fsdecode(s), None, os.fsdecode(d))
