# cython: language_level=3
"""Compiled file system operations of the storage layer (csrc/fs_rename.c, fs_store.c)."""

import os

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdlib cimport free, malloc

cdef extern from "fs_rename.h":
    int UL_RENAME_OK, UL_RENAME_EXISTS, UL_RENAME_UNSUPPORTED
    int ul_rename_noreplace(const char *src, const char *dst, int *err) nogil

cdef extern from "fs_store.h":
    ctypedef struct ul_span:
        const void *data
        size_t len
    int UL_STORE_OK, UL_STORE_TMP_EXISTS, UL_STORE_DST_EXISTS, UL_STORE_NO_RENAME
    int UL_STORE_ERROR, UL_STORE_UNSUPPORTED
    int ul_store_file(const char *tmp, const char *dst, const char *dir, const ul_span *spans,
                      size_t n, unsigned mode, int do_fsync, int *err, int *stage) nogil

#: ``store_file``'s answers.
STORED = UL_STORE_OK
TMP_EXISTS = UL_STORE_TMP_EXISTS
DST_EXISTS = UL_STORE_DST_EXISTS
NOT_RENAMED = UL_STORE_NO_RENAME
UNSUPPORTED = UL_STORE_UNSUPPORTED

_STAGES = {1: "create", 2: "write", 3: "chmod", 4: "fsync", 5: "close", 6: "rename"}


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


def store_file(tmp, dst, directory, chunks, int mode, bint fsync):
    """Write ``chunks`` (bytes-like objects) into a new file ``tmp`` (O_EXCL; mode 0600,
    then ``mode``), fsync it if ``fsync``, close it and rename it to ``dst`` (None: leave
    it under ``tmp``) unless ``dst`` exists, all in one call without the interpreter lock;
    with ``fsync``, also fsync ``directory`` after the rename. Returns STORED,
    TMP_EXISTS (nothing done), DST_EXISTS or NOT_RENAMED (the file is complete under
    ``tmp``), or UNSUPPORTED (not on this platform: nothing done). OSError for a failure
    (``tmp`` is then removed)."""
    cdef bytes t = os.fsencode(tmp)
    cdef bytes d = os.fsencode(dst) if dst is not None else None
    cdef bytes r = os.fsencode(directory)
    cdef const char *tp = t
    cdef const char *dp = NULL
    cdef const char *rp = r
    if d is not None:
        dp = d
    cdef list items = list(chunks)
    cdef Py_ssize_t n = len(items)
    cdef Py_buffer *views = <Py_buffer *>malloc(max(n, 1) * sizeof(Py_buffer))
    cdef ul_span *spans = <ul_span *>malloc(max(n, 1) * sizeof(ul_span))
    cdef Py_ssize_t got = 0
    cdef int err = 0
    cdef int stage = 0
    cdef int rc
    if views == NULL or spans == NULL:
        free(views)
        free(spans)
        raise MemoryError()
    try:
        while got < n:
            PyObject_GetBuffer(items[got], &views[got], PyBUF_SIMPLE)
            spans[got].data = views[got].buf
            spans[got].len = <size_t>views[got].len
            got += 1
        with nogil:
            rc = ul_store_file(tp, dp, rp, spans, <size_t>n, <unsigned>mode, fsync, &err,
                               &stage)
    finally:
        while got > 0:
            got -= 1
            PyBuffer_Release(&views[got])
        free(views)
        free(spans)
    if rc == UL_STORE_ERROR:
        what = _STAGES.get(stage, "store")
        where = os.fsdecode(t) if stage != 6 else os.fsdecode(d)
        raise OSError(err, f"{what}: {os.strerror(err)}", where)
    return rc
