/* test_fs.c - ul_rename_noreplace and ul_store_file in a fresh directory under /tmp (or
 * $TMPDIR), under ASan + UBSan: the bytes, the mode, never replacing, every failure leaving
 * nothing behind. POSIX only (the functions are stubs elsewhere). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fs_rename.h"
#include "fs_store.h"

static char dir[512];

static const char *at(const char *name) {
    static char paths[8][600];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static size_t slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return (size_t)-1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dicomul-fs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    int err = 0, stage = 0;
    char buf[64];
    ul_span spans[3] = {{"head", 4}, {"", 0}, {"-data", 5}};

    /* A whole file: bytes in order, mode applied, the temporary name gone. */
    int rc = ul_store_file(at("a.part"), at("a.dcm"), dir, spans, 3, 0644, 0, &err, &stage);
    CHECK(rc == UL_STORE_OK || rc == UL_STORE_NO_RENAME);
    if (rc == UL_STORE_NO_RENAME) /* a file system without the flag: rename here */
        CHECK(rename(at("a.part"), at("a.dcm")) == 0);
    CHECK(slurp(at("a.dcm"), buf, sizeof buf) == 9 && memcmp(buf, "head-data", 9) == 0);
    CHECK(!exists(at("a.part")));
    struct stat st;
    CHECK(stat(at("a.dcm"), &st) == 0 && (st.st_mode & 0777) == 0644);

    /* With fsync, and no rename asked for: complete under its temporary name. */
    rc = ul_store_file(at("b.part"), NULL, dir, spans, 1, 0600, 1, &err, &stage);
    CHECK(rc == UL_STORE_NO_RENAME && slurp(at("b.part"), buf, sizeof buf) == 4);

    /* The final name taken: the file stays complete under tmp, nothing is replaced. */
    rc = ul_store_file(at("c.part"), at("a.dcm"), dir, spans, 1, 0644, 0, &err, &stage);
    if (rc != UL_STORE_NO_RENAME) {
        CHECK(rc == UL_STORE_DST_EXISTS);
        CHECK(slurp(at("a.dcm"), buf, sizeof buf) == 9);
        CHECK(slurp(at("c.part"), buf, sizeof buf) == 4);
    }

    /* The temporary name taken: nothing done, the other file untouched. */
    rc = ul_store_file(at("b.part"), at("d.dcm"), dir, spans, 3, 0644, 0, &err, &stage);
    CHECK(rc == UL_STORE_TMP_EXISTS && !exists(at("d.dcm")));
    CHECK(slurp(at("b.part"), buf, sizeof buf) == 4);

    /* A directory that does not exist: an error at the create step. */
    rc = ul_store_file(at("gone/x.part"), at("gone/x.dcm"), dir, spans, 3, 0644, 0, &err,
                       &stage);
    CHECK(rc == UL_STORE_ERROR && err == ENOENT && stage == UL_STAGE_OPEN);

    /* A rename into a missing directory: an error at the rename step, tmp removed. */
    rc = ul_store_file(at("e.part"), at("gone/e.dcm"), dir, spans, 3, 0644, 0, &err, &stage);
    if (rc != UL_STORE_NO_RENAME) {
        CHECK(rc == UL_STORE_ERROR && err == ENOENT && stage == UL_STAGE_RENAME);
        CHECK(!exists(at("e.part")));
    }

    /* The rename itself. */
    FILE *f = fopen(at("f.part"), "wb");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    rc = ul_rename_noreplace(at("f.part"), at("a.dcm"), &err);
    CHECK(rc == UL_RENAME_EXISTS || rc == UL_RENAME_UNSUPPORTED);
    CHECK(slurp(at("a.dcm"), buf, sizeof buf) == 9);

    const char *names[] = {"a.dcm", "b.part", "c.part", "d.dcm", "e.part", "f.part"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(at(names[i]));
    CHECK(rmdir(dir) == 0); /* nothing else was left behind */
    return report();
}
