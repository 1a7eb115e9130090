/* SPDX-License-Identifier: MIT */
/* tess-limit: the ceiling for OCR throughput on this machine. Runs the raw
 * Tesseract C API over an image list with K threads, one engine per thread
 * and language (created before the clock starts), OpenMP limited to the
 * calling thread (omp_set_max_active_levels(0), the same as
 * OMP_THREAD_LIMIT=1), no network, and the same work per image as ocrpc:
 * pixRead, LSTM recognition with PSM 6 for Korean or PSM 3 (then 6 when 3
 * finds no line) otherwise, every text line read from the result iterator.
 *
 *   tess-limit [-t THREADS] [-n IMAGES | -d SECONDS] [--root DIR]
 *              [--language L] [--warm N] [--omp] LIST
 *
 * LIST: one image path per line, relative to --root, optionally followed by
 * a tab and a Tesseract language code (else --language, default: taken from
 * the path: "kor" when it contains "kor", else "eng"). Each thread first
 * recognises --warm images (default 4) before the clock starts, as the
 * servers are warmed before they are measured. Prints one JSON
 * object: images, seconds, images_per_s, latency percentiles (ms). With
 * --text DIR, each image of LIST is read once more after the clock stops
 * and its lines (every line, as the API gives them) are written to
 * DIR/<file name>.txt, for CER on the same run (bench/scale.sh). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

extern void omp_set_max_active_levels(int max_levels);

#define MAX_LANGS 4

typedef struct {
  char *path, *lang;
} item;

static item *items;
static int nitems;
static long target_n = 0;
static double target_s = 0;
static int limit_omp = 1;
static atomic_long next_index;
static atomic_int stop_flag;
static double t_start;
static double *lat;  /* one per image done, up to target_n or a cap */
static long lat_cap;
static atomic_long lat_n;
static atomic_long failures;
static int warm = 4, nthreads;
static FILE *text_out; /* --text: where recognise() writes lines, or NULL */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
  char lang[32];
  TessBaseAPI *api;
} slot;

typedef struct {
  slot slots[MAX_LANGS];
  int nslots;
  int idx;
  pthread_barrier_t *ready;
} worker;

static TessBaseAPI *engine(worker *w, const char *lang) {
  int i;
  for (i = 0; i < w->nslots; i++)
    if (strcmp(w->slots[i].lang, lang) == 0)
      return w->slots[i].api;
  if (w->nslots == MAX_LANGS)
    return NULL;
  TessBaseAPI *api = TessBaseAPICreate();
  if (TessBaseAPIInit2(api, NULL, lang, OEM_LSTM_ONLY) != 0) {
    TessBaseAPIDelete(api);
    return NULL;
  }
  snprintf(w->slots[w->nslots].lang, sizeof w->slots[0].lang, "%s", lang);
  w->slots[w->nslots++].api = api;
  return api;
}

static int recognise(TessBaseAPI *api, TessPageSegMode psm) {
  TessResultIterator *it;
  int n = 0;

  TessBaseAPISetPageSegMode(api, psm);
  if (TessBaseAPIRecognize(api, NULL) != 0)
    return -1;
  it = TessBaseAPIGetIterator(api);
  if (it == NULL)
    return 0;
  do {
    const TessPageIterator *pit = TessResultIteratorGetPageIteratorConst(it);
    char *line = TessResultIteratorGetUTF8Text(it, RIL_TEXTLINE);
    int l, t, r, b;
    size_t len;
    if (line == NULL)
      continue;
    len = strlen(line);
    while (len > 0 && strchr(" \t\r\n", line[len - 1]))
      len--;
    if (len > 0 && TessPageIteratorBoundingBox(pit, RIL_TEXTLINE, &l, &t, &r, &b)) {
      (void)TessResultIteratorConfidence(it, RIL_TEXTLINE);
      n++;
      if (text_out != NULL)
        fprintf(text_out, "%.*s\n", (int)len, line);
    }
    TessDeleteText(line);
  } while (TessResultIteratorNext(it, RIL_TEXTLINE));
  TessResultIteratorDelete(it);
  return n;
}

/* One image, the way ocrpc does it. Returns the lines read, -1 on failure. */
static int process(worker *w, const item *it) {
  TessBaseAPI *api = engine(w, it->lang);
  PIX *pix = pixRead(it->path);
  int n, kor;
  if (pix == NULL || api == NULL) {
    pixDestroy(&pix);
    return -1;
  }
  kor = strncmp(it->lang, "kor", 3) == 0;
  TessBaseAPISetImage2(api, pix);
  n = recognise(api, kor ? PSM_SINGLE_BLOCK : PSM_AUTO);
  if (n == 0 && !kor)
    n = recognise(api, PSM_SINGLE_BLOCK);
  TessBaseAPIClear(api);
  pixDestroy(&pix);
  return n;
}

static void *run(void *arg) {
  worker *w = arg;
  int i;

  if (limit_omp)
    omp_set_max_active_levels(0);
  for (i = 0; i < nitems; i++)
    if (engine(w, items[i].lang) == NULL) {
      fprintf(stderr, "tess-limit: cannot load language %s\n", items[i].lang);
      exit(1);
    }
  /* Warm-up, as the servers get before they are measured: the first
   * recognitions of a fresh engine are slower. */
  for (i = 0; i < warm; i++)
    process(w, &items[(i * nthreads + w->idx) % nitems]);
  pthread_barrier_wait(w->ready);
  for (;;) {
    long k = atomic_fetch_add(&next_index, 1);
    double t0;
    if ((target_n > 0 && k >= target_n) || atomic_load(&stop_flag))
      break;
    t0 = now_s();
    if (target_s > 0 && t0 - t_start >= target_s) {
      atomic_store(&stop_flag, 1);
      break;
    }
    int n = process(w, &items[k % nitems]);
    if (n < 0)
      atomic_fetch_add(&failures, 1);
    long j = atomic_fetch_add(&lat_n, 1);
    if (j < lat_cap)
      lat[j] = (now_s() - t0) * 1e3;
  }
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p) {
  long i;
  if (n == 0)
    return 0;
  i = (long)(p / 100.0 * (double)n);
  if (i >= n)
    i = n - 1;
  return v[i];
}

static void usage(void) {
  fprintf(stderr, "usage: tess-limit [-t THREADS] [-n IMAGES | -d SECONDS] [--root DIR] "
                  "[--language L] [--warm N] [--omp] [--text DIR] LIST\n");
  exit(2);
}

int main(int argc, char **argv) {
  int threads = 2, i;
  const char *root = ".", *list = NULL, *lang = NULL, *text_dir = NULL;
  char line[4096];
  FILE *f;

  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-t") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      target_n = atol(argv[++i]);
    else if (!strcmp(argv[i], "-d") && i + 1 < argc)
      target_s = atof(argv[++i]);
    else if (!strcmp(argv[i], "--root") && i + 1 < argc)
      root = argv[++i];
    else if (!strcmp(argv[i], "--language") && i + 1 < argc)
      lang = argv[++i];
    else if (!strcmp(argv[i], "--warm") && i + 1 < argc)
      warm = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--text") && i + 1 < argc)
      text_dir = argv[++i];
    else if (!strcmp(argv[i], "--omp"))
      limit_omp = 0;
    else if (argv[i][0] == '-')
      usage();
    else
      list = argv[i];
  }
  if (list == NULL || threads < 1 || (target_n <= 0 && target_s <= 0))
    usage();
  if ((f = fopen(list, "r")) == NULL) {
    perror(list);
    return 1;
  }
  while (fgets(line, sizeof line, f)) {
    char *tab, full[8192];
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#')
      continue;
    tab = strchr(line, '\t');
    if (tab)
      *tab++ = 0;
    items = realloc(items, sizeof(*items) * (size_t)(nitems + 1));
    snprintf(full, sizeof full, "%s%s%s", line[0] == '/' ? "" : root,
             line[0] == '/' ? "" : "/", line);
    items[nitems].path = strdup(full);
    items[nitems].lang = strdup(tab ? tab : lang ? lang : strstr(line, "kor") ? "kor" : "eng");
    nitems++;
  }
  fclose(f);
  if (nitems == 0) {
    fprintf(stderr, "tess-limit: empty list\n");
    return 1;
  }
  {
    /* Tesseract's diagnostics off, before any instance is initialised. */
    TessBaseAPI *q = TessBaseAPICreate();
    TessBaseAPISetVariable(q, "debug_file", "/dev/null");
    TessBaseAPIDelete(q);
  }
  lat_cap = target_n > 0 ? target_n : 1000000;
  lat = calloc((size_t)lat_cap, sizeof(double));
  pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
  worker *ws = calloc((size_t)threads, sizeof(worker));
  pthread_barrier_t ready;
  nthreads = threads;
  pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
  for (i = 0; i < threads; i++) {
    ws[i].ready = &ready;
    ws[i].idx = i;
    pthread_create(&tids[i], NULL, run, &ws[i]);
  }
  pthread_barrier_wait(&ready);  /* every engine loaded: the clock starts */
  t_start = now_s();
  for (i = 0; i < threads; i++)
    pthread_join(tids[i], NULL);
  double secs = now_s() - t_start;
  long n = atomic_load(&lat_n);
  if (n > lat_cap)
    n = lat_cap;
  qsort(lat, (size_t)n, sizeof(double), cmp_d);
  printf("{\"tool\":\"tess-limit\",\"threads\":%d,\"omp_limited\":%s,\"images\":%ld,"
         "\"failures\":%ld,\"seconds\":%.3f,\"images_per_s\":%.3f,\"p50_ms\":%.1f,"
         "\"p95_ms\":%.1f,\"p99_ms\":%.1f}\n",
         threads, limit_omp ? "true" : "false", n, atomic_load(&failures), secs,
         secs > 0 ? (double)n / secs : 0.0, pct(lat, n, 50), pct(lat, n, 95), pct(lat, n, 99));
  /* Outside the clock: one more reading per image, its text kept. */
  for (i = 0; text_dir != NULL && i < nitems; i++) {
    const char *base = strrchr(items[i].path, '/');
    char out[8192];
    int lines;

    snprintf(out, sizeof out, "%s/%s.txt", text_dir, base ? base + 1 : items[i].path);
    if ((text_out = fopen(out, "w")) == NULL) {
      perror(out);
      return 1;
    }
    lines = process(&ws[0], &items[i]);
    fclose(text_out);
    text_out = NULL;
    if (lines < 0)
      fprintf(stderr, "tess-limit: %s could not be read\n", items[i].path);
  }
  for (i = 0; i < threads; i++)
    for (int s = 0; s < ws[i].nslots; s++) {
      TessBaseAPIEnd(ws[i].slots[s].api);
      TessBaseAPIDelete(ws[i].slots[s].api);
    }
  return 0;
}
