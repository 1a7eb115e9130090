/* SPDX-License-Identifier: MIT */
/* Helpers shared by the OCR tests: a temporary directory per test, images
 * rendered at test time with ImageMagick (the project ships no images),
 * file reading and writing, and counting the process's threads. They run
 * on the test's main thread. */
#ifndef OCRPC_TESTS_OCR_TEST_UTIL_H
#define OCRPC_TESTS_OCR_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The real ImageMagick; an earlier entry on PATH may be a stand-in. */
#define OTU_CONVERT "/usr/bin/convert"

/* Creates a fresh directory under $TMPDIR (or /tmp); malloc'd path, or
 * NULL. */
char *otu_tmpdir(void);

/* Removes dir and everything below it; NULL is a no-op. */
void otu_rmtree(const char *dir);

/* Writes "dir/name" into buf and returns buf. */
char *otu_join(char *buf, size_t size, const char *dir, const char *name);

/* Runs argv[0] (an absolute path) with argv, without a shell, and waits.
 * Returns its exit status, or -1 if it could not run. */
int otu_run(const char *const argv[]);

/* Font file for a fontconfig name ("DejaVuSans", "NanumGothic"); static
 * storage, NULL when none is installed. */
const char *otu_font(const char *name);

/* Renders text (may hold '\n') in black on a white canvas of size
 * ("800x100") with the font file at pointsize, baseline of the first line
 * at (x, y), into out (format from its extension). Returns 0 on success. */
int otu_render(const char *out, const char *size, const char *font, int pointsize, int x,
               int y, const char *text);

/* Runs convert in out with extra arguments between the input and output
 * ("-rotate", "90"); argv ends with NULL. Returns 0 on success. */
int otu_convert(const char *in, const char *out, const char *const extra[]);

/* Reads a whole file; malloc'd, length in *len. NULL on failure. */
uint8_t *otu_read_file(const char *path, size_t *len);

/* Writes len bytes to path (created or truncated). Returns 0 on success. */
int otu_write_file(const char *path, const void *data, size_t len);

/* Number of threads of this process (entries in /proc/self/task). */
int otu_thread_count(void);

#endif
