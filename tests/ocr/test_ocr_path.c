/* SPDX-License-Identifier: MIT */
/* Path confinement: ocr_path_resolve refuses "..", absolute paths and
 * symlinks that leave the image root, and the engine reports those
 * refusals as results. Each test builds its own tree in a temporary
 * directory; everything runs on the test's main thread. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_test_util.h"

static char *dir;
static char root[PATH_MAX], real_root[PATH_MAX];

/* dir/secret.txt (outside), dir/root/{a.png, sub/b.png, in -> a.png,
 * esc -> ../secret.txt, escdir -> .., abs -> /etc}, and a sibling
 * dir/root-evil/x.png sharing the root's name as a prefix. */
static void setup(void) {
  char p[PATH_MAX], q[PATH_MAX];

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  otu_join(root, sizeof(root), dir, "root");
  cr_assert_eq(mkdir(root, 0755), 0);
  cr_assert_not_null(realpath(root, real_root));
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), dir, "secret.txt"), "s", 1), 0);
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), root, "a.png"), "a", 1), 0);
  cr_assert_eq(mkdir(otu_join(p, sizeof(p), root, "sub"), 0755), 0);
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), root, "sub/b.png"), "b", 1), 0);
  cr_assert_eq(symlink("a.png", otu_join(p, sizeof(p), root, "in")), 0);
  cr_assert_eq(symlink("../secret.txt", otu_join(p, sizeof(p), root, "esc")), 0);
  cr_assert_eq(symlink("..", otu_join(p, sizeof(p), root, "escdir")), 0);
  cr_assert_eq(symlink("/etc", otu_join(p, sizeof(p), root, "abs")), 0);
  cr_assert_eq(mkdir(otu_join(q, sizeof(q), dir, "root-evil"), 0755), 0);
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), q, "x.png"), "x", 1), 0);
}

static void teardown(void) {
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_path, .init = setup, .fini = teardown);

static int resolve(const char *path, char *out) {
  return ocr_path_resolve(root, path, out, PATH_MAX);
}

Test(ocr_path, plain_file_inside_root_resolves_to_its_real_path) {
  char out[PATH_MAX], want[PATH_MAX];

  cr_assert_eq(resolve("a.png", out), 0);
  cr_assert_str_eq(out, otu_join(want, sizeof(want), real_root, "a.png"));
  cr_assert_eq(resolve("sub/b.png", out), 0);
  cr_assert_eq(resolve("./sub//b.png", out), 0);
  cr_assert_str_eq(out, otu_join(want, sizeof(want), real_root, "sub/b.png"));
}

Test(ocr_path, dotdot_that_stays_inside_is_allowed) {
  char out[PATH_MAX], want[PATH_MAX];

  cr_assert_eq(resolve("sub/../a.png", out), 0);
  cr_assert_str_eq(out, otu_join(want, sizeof(want), real_root, "a.png"));
}

Test(ocr_path, dotdot_escaping_is_forbidden_even_if_missing) {
  char out[PATH_MAX];

  cr_assert_eq(resolve("../x", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("../secret.txt", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("sub/../../secret.txt", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("../../../../../../../../etc/passwd", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("../root-evil/x.png", out), ERR_FORBIDDEN_PATH);
}

Test(ocr_path, absolute_paths) {
  char out[PATH_MAX], p[PATH_MAX];

  cr_assert_eq(resolve("/etc/passwd", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve(otu_join(p, sizeof(p), dir, "secret.txt"), out), ERR_FORBIDDEN_PATH);
  /* Same prefix, different directory: the check stops at a '/'. */
  cr_assert_eq(resolve(otu_join(p, sizeof(p), dir, "root-evil/x.png"), out),
               ERR_FORBIDDEN_PATH);
  /* Inside the root, spelled with the configured or the real root. */
  cr_assert_eq(resolve(otu_join(p, sizeof(p), root, "a.png"), out), 0);
  cr_assert_eq(resolve(otu_join(p, sizeof(p), real_root, "sub/b.png"), out), 0);
  cr_assert_eq(resolve(otu_join(p, sizeof(p), root, "missing.png"), out), ERR_NOT_FOUND);
}

Test(ocr_path, symlinks_escaping_are_forbidden) {
  char out[PATH_MAX];

  cr_assert_eq(resolve("esc", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("escdir/secret.txt", out), ERR_FORBIDDEN_PATH);
  cr_assert_eq(resolve("abs/passwd", out), ERR_FORBIDDEN_PATH);
}

Test(ocr_path, symlink_inside_root_is_followed) {
  char out[PATH_MAX], want[PATH_MAX];

  cr_assert_eq(resolve("in", out), 0);
  cr_assert_str_eq(out, otu_join(want, sizeof(want), real_root, "a.png"));
}

Test(ocr_path, missing_files_are_not_found) {
  char out[PATH_MAX];

  cr_assert_eq(resolve("missing.png", out), ERR_NOT_FOUND);
  cr_assert_eq(resolve("sub/missing.png", out), ERR_NOT_FOUND);
  cr_assert_eq(resolve("nodir/missing.png", out), ERR_NOT_FOUND);
  cr_assert_eq(resolve("a.png/x", out), ERR_NOT_FOUND);
  cr_assert_eq(resolve("", out), ERR_NOT_FOUND);
  cr_assert_eq(resolve(NULL, out), ERR_NOT_FOUND);
}

Test(ocr_path, relative_root_resolves_from_working_directory) {
  char out[PATH_MAX], want[PATH_MAX], cwd[PATH_MAX];

  cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
  cr_assert_eq(chdir(dir), 0);
  cr_assert_eq(ocr_path_resolve("root", "sub/b.png", out, sizeof(out)), 0);
  cr_assert_str_eq(out, otu_join(want, sizeof(want), real_root, "sub/b.png"));
  cr_assert_eq(ocr_path_resolve("root", "../secret.txt", out, sizeof(out)),
               ERR_FORBIDDEN_PATH);
  cr_assert_eq(chdir(cwd), 0);
}

Test(ocr_path, output_buffer_too_small_is_refused) {
  char out[8];

  cr_assert_neq(ocr_path_resolve(root, "a.png", out, sizeof(out)), 0);
}

/* The engine turns refusals into results with a message; the path check
 * comes before Tesseract is touched. */
Test(ocr_path, engine_reports_forbidden_and_missing) {
  ocr_config cfg = {
      .kind = OCR_KIND_TESSERACT, .image_root = root, .default_language = "eng"};
  ocr_request req = {.psm = -1};
  ocr_engine *e;
  ocr_result r;

  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  ocr_result_init(&r);
  req.path = "../secret.txt";
  cr_assert_eq(ocr_engine_run(e, &req, &r), ERR_FORBIDDEN_PATH);
  cr_assert_eq(r.err, ERR_FORBIDDEN_PATH);
  cr_assert_not_null(r.error_message);
  cr_assert_null(r.text);
  ocr_result_clear(&r);

  req.path = "esc";
  cr_assert_eq(ocr_engine_run(e, &req, &r), ERR_FORBIDDEN_PATH);
  ocr_result_clear(&r);

  req.path = "nothing-here.png";
  cr_assert_eq(ocr_engine_run(e, &req, &r), ERR_NOT_FOUND);
  cr_assert_not_null(strstr(r.error_message, "nothing-here.png"));
  ocr_result_clear(&r);
  ocr_engine_free(e);
}
