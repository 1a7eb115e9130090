/* SPDX-License-Identifier: MIT */
/* ocrpc: the command-line client of OCRService (extract, batch, health,
 * status). One thread: each command builds its request, runs one call on a
 * client_loop until on_done, prints, and maps the outcome to an exit code
 * (0 ok, 1 an image failed, 2 usage, 3 connection/unavailable,
 * 4 deadline, 5 other server error). */
#include <errno.h>
#include <pb_decode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/text.h"
#include "base/version.h"
#include "cli_analyze.h"
#include "cli_json.h"
#include "client/client.h"
#include "client/client_pb.h"
#include "ocr.pb.h"

enum {
  EXIT_OK = 0,
  EXIT_IMAGE = 1,
  EXIT_USAGE = 2,
  EXIT_UNAVAILABLE = 3,
  EXIT_DEADLINE = 4,
  EXIT_SERVER = 5
};

#define FILE_LIMIT ((uint64_t)1 << 30)

static const char usage[] =
    "usage: ocrpc [options] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  extract FILE            OCR one image (sent inline); prints its text\n"
    "  extract --path PATH     OCR an image by its path on the server\n"
    "  batch FILE...           OCR several images in one streamed batch; prints\n"
    "                          each result as it arrives, a progress bar on a\n"
    "                          terminal, and the batch id at the end\n"
    "  health                  the server's CheckHealth answer\n"
    "  status BATCH_ID         a batch's state and results (GetBatchStatus)\n"
    "  analyze [FILE|-]        analyze text (a file, else stdin) with llm.LLMService;\n"
    "                          tokens are printed as they arrive\n"
    "  analyze --image IMG     OCR an image first, then analyze its text\n"
    "\n"
    "Options:\n"
    "  -s, --server HOST:PORT  server (default: $OCRPC_TARGET, else\n"
    "                          localhost:50051); several, comma-separated,\n"
    "                          are used round robin: a call that finds its\n"
    "                          server down (UNAVAILABLE before any answer)\n"
    "                          goes to the next; a DNS name with several\n"
    "                          addresses is tried address by address\n"
    "      --timeout D         deadline per call, e.g. 30s, 500ms, 2m\n"
    "                          (default: none)\n"
    "      --language L        OCR language (korean, english, kor+eng, ...;\n"
    "                          default: the server's, korean unless configured)\n"
    "      --angle             detect orientation (use_angle_cls)\n"
    "      --path              extract: the argument is a server-side path\n"
    "      --server-paths      batch: the arguments are server-side paths\n"
    "      --batch-id ID       batch: choose the batch id\n"
    "      --json              print responses as JSON (batch: one line each)\n"
    "      --token T           bearer token for a server started with\n"
    "                          --auth-token-file (default: $OCRPC_TOKEN)\n"
    "      --prompt P          analyze: the instruction (default: the server's)\n"
    "      --engine E          analyze: rules or openai (default: the server's)\n"
    "      --model M, --temperature T, --max-tokens N\n"
    "                          analyze: passed to the openai engine\n"
    "      --whole             analyze: one AnalyzeText answer with its entities\n"
    "  -h, --help              this text\n"
    "      --version           print the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  an image failed (OCR status FAILURE, or a file could not be read\n"
    "     or is empty)\n"
    "  2  usage error\n"
    "  3  server unreachable or unavailable (connection refused, reset, GOAWAY);\n"
    "     one attempt, never retried: run again later\n"
    "  4  deadline exceeded (--timeout)\n"
    "  5  any other error reported by the server or the protocol\n";

#define MAX_TARGETS 64

typedef struct cli {
  const char *target; /* as given: one host:port, or several, comma-separated */
  char *targets[MAX_TARGETS];
  int ntargets;
  int first_target; /* where this run starts in targets (round robin) */
  uint64_t timeout_ms;
  const char *language;
  int angle;
  int path_mode; /* extract --path / batch --server-paths */
  const char *batch_id;
  int json;
  const char *token;   /* --token / $OCRPC_TOKEN; NULL: none */
  cli_analyze_opts an; /* analyze's own options */
  const char *cmd;
  char **args;
  int nargs;
} cli;

/* One call's outcome. */
typedef struct run {
  cli *o;
  const char *target; /* the one the last attempt went to */
  client_conn *conn;
  int code;
  char message[1024];
  int local;
  int nmessages;
  int bad; /* a response did not decode */
  /* The command's message handler. */
  int (*on_msg)(struct run *r, const uint8_t *data, size_t len);
  void *cmd_ud;
} run;

static int on_message(void *ud, const uint8_t *data, size_t len) {
  run *r = ud;
  r->nmessages++;
  return r->on_msg(r, data, len);
}

static void on_done(void *ud, const client_status *st) {
  run *r = ud;
  r->code = st->code;
  r->local = st->local;
  snprintf(r->message, sizeof r->message, "%s", st->message);
  client_conn_close(r->conn);
}

static int call_one(cli *o, run *r, const char *target, const char *path, const buf *body,
                    int unary);

/* Runs one call to completion. With several targets, the call goes to the
 * next one (round robin from a start that differs per run) while it ends
 * UNAVAILABLE before any response message: a node that is down or
 * draining never saw it. Returns 0 when it ran (outcome in r), or
 * EXIT_USAGE / EXIT_SERVER when it could not start. */
static int call(cli *o, run *r, const char *path, const buf *body, int unary) {
  int rc = 0;
  for (int i = 0; i < o->ntargets; i++) {
    r->nmessages = 0;
    r->message[0] = 0;
    r->local = 0;
    rc = call_one(o, r, o->targets[(o->first_target + i) % o->ntargets], path, body, unary);
    if (rc || r->code != RPC_UNAVAILABLE || r->nmessages > 0)
      break;
  }
  return rc;
}

static int call_one(cli *o, run *r, const char *target, const char *path, const buf *body,
                    int unary) {
  client_loop *loop;
  r->o = o;
  r->target = target;
  r->code = RPC_UNKNOWN;
  if (client_loop_new(&loop)) {
    fprintf(stderr, "ocrpc: out of memory\n");
    return EXIT_SERVER;
  }
  char authz[4200];
  client_conn_opts copts = {0, 0, NULL};
  if (o->token) {
    snprintf(authz, sizeof authz, "Bearer %s", o->token);
    copts.authorization = authz;
  }
  int rc = client_conn_new(loop, target, &copts, &r->conn);
  if (rc) {
    fprintf(stderr, "ocrpc: bad server address \"%s\" (want host:port)\n", target);
    client_loop_free(loop);
    return EXIT_USAGE;
  }
  client_call_cbs cbs = {on_message, on_done};
  rc = client_call_start(r->conn, path, body->data, body->len, o->timeout_ms,
                         unary ? CLIENT_CALL_UNARY : 0, &cbs, r, NULL);
  if (rc) {
    fprintf(stderr, "ocrpc: cannot start the call: %s\n", err_text(rc));
    client_conn_close(r->conn);
    client_loop_free(loop);
    return EXIT_SERVER;
  }
  client_loop_run(loop);
  client_loop_free(loop);
  return 0;
}

/* Prints why a call failed and returns its exit code. */
static int call_failed(const run *r) {
  const char *m = r->message[0] ? r->message : "(no message)";
  switch (r->code) {
  case RPC_UNAVAILABLE:
    fprintf(stderr, "ocrpc: server %s unavailable: %s\n", r->target, m);
    return EXIT_UNAVAILABLE;
  case RPC_DEADLINE_EXCEEDED:
    fprintf(stderr, "ocrpc: deadline exceeded (--timeout): %s\n", m);
    return EXIT_DEADLINE;
  default:
    fprintf(stderr, "ocrpc: %s %s: %s\n", r->local ? "call failed:" : "server error",
            rpc_status_name(r->code), m);
    return EXIT_SERVER;
  }
}

/* ---- extract ----------------------------------------------------------- */

typedef struct extract_ud {
  ocr_OCRResponse resp;
  int have;
} extract_ud;

static int extract_msg(run *r, const uint8_t *data, size_t len) {
  extract_ud *x = r->cmd_ud;
  if (client_pb_decode(data, len, ocr_OCRResponse_fields, &x->resp)) {
    r->bad = 1;
    return ERR_PARSE;
  }
  x->have = 1;
  return 0;
}

static void print_ocr_failure(const char *name, const ocr_OCRResponse *resp) {
  fprintf(stderr, "ocrpc: %s: OCR failed", name);
  if (resp->has_error) {
    fprintf(stderr, ": %s", resp->error.code ? resp->error.code : "");
    if (resp->error.details && *resp->error.details)
      fprintf(stderr, " %s", resp->error.details);
    if (resp->error.message && *resp->error.message)
      fprintf(stderr, ": %s", resp->error.message);
  }
  fputc('\n', stderr);
}

/* Reads an image file for the request. An empty file is refused here:
 * proto3 cannot tell empty bytes from no image, so the server would only
 * say "no image in the request". 0 or the exit status (message printed). */
static int read_image(const char *name, pb_bytes_array_t **data) {
  int rc = client_pb_read_file(name, FILE_LIMIT, data);
  if (rc) {
    fprintf(stderr, "ocrpc: %s: %s\n", name,
            rc == ERR_NOT_FOUND ? "no such file" : err_text(rc));
    return EXIT_IMAGE;
  }
  if ((*data)->size == 0) {
    fprintf(stderr, "ocrpc: %s: empty file (0 bytes), not an image\n", name);
    free(*data);
    *data = NULL;
    return EXIT_IMAGE;
  }
  return 0;
}

/* A success without a line of text is easy to get (the server's default
 * language is Korean): say so on stderr, with the language the server
 * used, rather than print an empty line without a word. */
static void warn_if_empty(const char *name, const ocr_OCRResponse *resp) {
  if (resp->text && *resp->text)
    return;
  const char *lang = "?";
  for (pb_size_t i = 0; resp->has_metadata && i < resp->metadata.data_count; i++) {
    const common_Metadata_DataEntry *e = &resp->metadata.data[i];
    if (e->key && e->value && !strcmp(e->key, "language"))
      lang = e->value;
  }
  fprintf(stderr,
          "ocrpc: %s: no text recognised (language %s); if the image is in another "
          "language, pass --language (e.g. --language english)\n",
          name, lang);
}

static void print_text(const char *text) {
  if (!text)
    text = "";
  size_t n = strlen(text);
  fputs(text, stdout);
  if (n == 0 || text[n - 1] != '\n')
    fputc('\n', stdout);
}

static int cmd_extract(cli *o) {
  if (o->nargs != 1) {
    fprintf(stderr, "ocrpc: extract takes one FILE (or --path PATH)\n");
    return EXIT_USAGE;
  }
  const char *arg = o->args[0];
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  pb_bytes_array_t *data = NULL;
  if (o->path_mode) {
    req.public_image_path = (char *)arg;
  } else {
    int rc = read_image(arg, &data);
    if (rc)
      return rc;
    req.image_data = data;
  }
  req.language = (char *)o->language;
  req.use_angle_cls = o->angle;
  buf body = BUF_INIT;
  int rc = client_pb_frame(&body, ocr_OCRRequest_fields, &req);
  free(data);
  if (rc) {
    fprintf(stderr, "ocrpc: cannot encode the request: %s\n", err_text(rc));
    return EXIT_SERVER;
  }
  extract_ud x;
  memset(&x, 0, sizeof x);
  run r;
  memset(&r, 0, sizeof r);
  r.on_msg = extract_msg;
  r.cmd_ud = &x;
  rc = call(o, &r, CLIENT_M_EXTRACT_TEXT, &body, 1);
  buf_free(&body);
  int ex;
  if (rc)
    ex = rc;
  else if (r.code != RPC_OK)
    ex = call_failed(&r);
  else {
    if (o->json) {
      cli_json_ocr_response(stdout, &x.resp);
      fputc('\n', stdout);
    }
    if (x.resp.status == common_Status_STATUS_SUCCESS) {
      if (!o->json)
        print_text(x.resp.text);
      warn_if_empty(arg, &x.resp);
      ex = EXIT_OK;
    } else {
      print_ocr_failure(arg, &x.resp);
      ex = EXIT_IMAGE;
    }
  }
  pb_release(ocr_OCRResponse_fields, &x.resp);
  return ex;
}

/* ---- batch ------------------------------------------------------------- */

typedef struct batch_ud {
  const char **names; /* per sent image */
  int total;          /* sent images */
  int done, failed;
  int tty;
  uint64_t start_ns;
  char batch_id[128];
} batch_ud;

static void bar_clear(batch_ud *b) {
  if (b->tty)
    fputs("\r\033[K", stderr);
}

static void bar_draw(batch_ud *b) {
  if (!b->tty)
    return;
  double secs = (double)(clock_mono_ns() - b->start_ns) / 1e9;
  double pct = b->total ? 100.0 * b->done / b->total : 100;
  double rate = secs > 0 ? b->done / secs : 0;
  int width = 30, fill = b->total ? width * b->done / b->total : width;
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < fill ? '#' : '-';
  bar[width] = '\0';
  fprintf(stderr, "\r\033[K[%s] %d/%d %5.1f%% %.1f img/s", bar, b->done, b->total, pct,
          rate);
  if (rate > 0 && b->done < b->total)
    fprintf(stderr, " ETA %.0fs", (b->total - b->done) / rate);
  fflush(stderr);
}

static int batch_msg(run *r, const uint8_t *data, size_t len) {
  batch_ud *b = r->cmd_ud;
  ocr_OCRBatchProgress p;
  if (client_pb_decode(data, len, ocr_OCRBatchProgress_fields, &p)) {
    pb_release(ocr_OCRBatchProgress_fields, &p);
    r->bad = 1;
    return ERR_PARSE;
  }
  if (p.batch_id && !b->batch_id[0])
    snprintf(b->batch_id, sizeof b->batch_id, "%s", p.batch_id);
  if (p.has_current_result) {
    const char *name = p.index >= 0 && p.index < b->total ? b->names[p.index] : "?";
    b->done++;
    bar_clear(b);
    if (r->o->json) {
      cli_json_progress(stdout, &p, name);
      fputc('\n', stdout);
    }
    if (p.current_result.status == common_Status_STATUS_SUCCESS) {
      if (!r->o->json) {
        printf("==> %s <==\n", name);
        print_text(p.current_result.text);
      }
      warn_if_empty(name, &p.current_result);
    } else {
      b->failed++;
      print_ocr_failure(name, &p.current_result);
    }
    fflush(stdout);
    bar_draw(b);
  }
  pb_release(ocr_OCRBatchProgress_fields, &p);
  return 0;
}

static int cmd_batch(cli *o) {
  if (o->nargs < 1) {
    fprintf(stderr, "ocrpc: batch takes one or more FILEs\n");
    return EXIT_USAGE;
  }
  ocr_OCRBatchRequest req = ocr_OCRBatchRequest_init_zero;
  req.image_paths = calloc((size_t)o->nargs, sizeof *req.image_paths);
  batch_ud b;
  memset(&b, 0, sizeof b);
  b.names = calloc((size_t)o->nargs, sizeof *b.names);
  if (!req.image_paths || !b.names) {
    fprintf(stderr, "ocrpc: out of memory\n");
    return EXIT_SERVER;
  }
  int local_failed = 0;
  for (int i = 0; i < o->nargs; i++) {
    ocr_ImagePath *ip = &req.image_paths[req.image_paths_count];
    if (o->path_mode) {
      ip->public_path = o->args[i];
    } else {
      if (read_image(o->args[i], &ip->data)) {
        local_failed++;
        continue;
      }
    }
    b.names[req.image_paths_count++] = o->args[i];
  }
  b.total = (int)req.image_paths_count;
  int ex = EXIT_OK;
  if (b.total > 0) {
    req.language = (char *)o->language;
    req.use_angle_cls = o->angle;
    req.batch_id = (char *)o->batch_id;
    /* Results are printed under their file's name (index), so the first
     * finished comes first. */
    req.completion_order = true;
    buf body = BUF_INIT;
    int rc = client_pb_frame(&body, ocr_OCRBatchRequest_fields, &req);
    for (pb_size_t i = 0; i < req.image_paths_count; i++)
      free(req.image_paths[i].data);
    if (rc) {
      fprintf(stderr, "ocrpc: cannot encode the request: %s\n", err_text(rc));
      ex = EXIT_SERVER;
    } else {
      b.tty = isatty(STDERR_FILENO);
      b.start_ns = clock_mono_ns();
      run r;
      memset(&r, 0, sizeof r);
      r.on_msg = batch_msg;
      r.cmd_ud = &b;
      bar_draw(&b);
      rc = call(o, &r, CLIENT_M_EXTRACT_BATCH, &body, 0);
      bar_clear(&b);
      if (rc)
        ex = rc;
      else if (r.code != RPC_OK)
        ex = call_failed(&r);
      else if (b.done < b.total) {
        fprintf(stderr, "ocrpc: the batch ended after %d of %d results\n", b.done, b.total);
        ex = EXIT_SERVER;
      }
    }
    buf_free(&body);
  }
  fprintf(stderr, "ocrpc: batch %s: %d images, %d ok, %d failed\n",
          b.batch_id[0] ? b.batch_id : "(not sent)", o->nargs, b.done - b.failed,
          b.failed + local_failed + (b.total - b.done));
  if (ex == EXIT_OK && (b.failed || local_failed))
    ex = EXIT_IMAGE;
  free(req.image_paths);
  free(b.names);
  return ex;
}

/* ---- health, status ---------------------------------------------------- */

typedef struct any_ud {
  const pb_msgdesc_t *fields;
  void *msg;
} any_ud;

static int any_msg(run *r, const uint8_t *data, size_t len) {
  any_ud *a = r->cmd_ud;
  if (client_pb_decode(data, len, a->fields, a->msg)) {
    r->bad = 1;
    return ERR_PARSE;
  }
  return 0;
}

static int unary(cli *o, const char *path, const pb_msgdesc_t *req_fields, const void *req,
                 const pb_msgdesc_t *resp_fields, void *resp) {
  buf body = BUF_INIT;
  if (client_pb_frame(&body, req_fields, req)) {
    fprintf(stderr, "ocrpc: cannot encode the request\n");
    return EXIT_SERVER;
  }
  any_ud a = {resp_fields, resp};
  run r;
  memset(&r, 0, sizeof r);
  r.on_msg = any_msg;
  r.cmd_ud = &a;
  int rc = call(o, &r, path, &body, 1);
  buf_free(&body);
  if (rc)
    return rc;
  if (r.code != RPC_OK)
    return call_failed(&r);
  return EXIT_OK;
}

static int cmd_health(cli *o) {
  if (o->nargs) {
    fprintf(stderr, "ocrpc: health takes no arguments\n");
    return EXIT_USAGE;
  }
  ocr_HealthCheckRequest req = ocr_HealthCheckRequest_init_zero;
  ocr_HealthCheckResponse resp;
  memset(&resp, 0, sizeof resp);
  int ex = unary(o, CLIENT_M_CHECK_HEALTH, ocr_HealthCheckRequest_fields, &req,
                 ocr_HealthCheckResponse_fields, &resp);
  if (ex == EXIT_OK) {
    if (o->json) {
      cli_json_health(stdout, &resp);
      fputc('\n', stdout);
    } else {
      printf("status:       %s\nengine:       %s\nmodel loaded: %s\nversion:      %s\n",
             cli_status_name(resp.status), resp.engine_type ? resp.engine_type : "",
             resp.model_loaded ? "yes" : "no", resp.version ? resp.version : "");
    }
    if (resp.status != common_Status_STATUS_SUCCESS) {
      fprintf(stderr, "ocrpc: the server reports %s\n", cli_status_name(resp.status));
      ex = EXIT_SERVER;
    }
  }
  pb_release(ocr_HealthCheckResponse_fields, &resp);
  return ex;
}

static int cmd_status(cli *o) {
  if (o->nargs != 1) {
    fprintf(stderr, "ocrpc: status takes one BATCH_ID\n");
    return EXIT_USAGE;
  }
  ocr_BatchStatusRequest req = ocr_BatchStatusRequest_init_zero;
  req.batch_id = o->args[0];
  ocr_BatchStatusResponse resp;
  memset(&resp, 0, sizeof resp);
  int ex = unary(o, CLIENT_M_BATCH_STATUS, ocr_BatchStatusRequest_fields, &req,
                 ocr_BatchStatusResponse_fields, &resp);
  if (ex == EXIT_OK) {
    if (o->json) {
      cli_json_batch_status(stdout, &resp);
      fputc('\n', stdout);
    } else {
      printf("batch %s: %s, %d/%d processed, %d failed\n",
             resp.batch_id ? resp.batch_id : o->args[0], resp.state ? resp.state : "",
             (int)resp.processed_images, (int)resp.total_images, (int)resp.failed_images);
      for (pb_size_t i = 0; i < resp.results_count; i++) {
        const ocr_BatchImageResult *x = &resp.results[i];
        if (x->status == common_Status_STATUS_SUCCESS) {
          printf("[%d] ", (int)x->index);
          print_text(x->text);
        } else {
          printf("[%d] %s", (int)x->index, cli_status_name(x->status));
          if (x->has_error)
            printf(" %s %s: %s", x->error.code ? x->error.code : "",
                   x->error.details ? x->error.details : "",
                   x->error.message ? x->error.message : "");
          putchar('\n');
        }
      }
    }
  }
  pb_release(ocr_BatchStatusResponse_fields, &resp);
  return ex;
}

/* ---- main -------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("ocrpc: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see ocrpc --help)\n", stderr);
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  cli o;
  memset(&o, 0, sizeof o);
  const char *env = getenv("OCRPC_TARGET");
  o.target = env && *env ? env : "localhost:50051";
  const char *tok = getenv("OCRPC_TOKEN");
  o.token = tok && *tok ? tok : NULL;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args)
    return EXIT_SERVER;
  int no_more_flags = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    char name[64];
    a = text_split_flag(a, name, sizeof name, &v); /* --name=value too */
#define VALUE()                                                                            \
  do {                                                                                     \
    if (!v) {                                                                              \
      if (i + 1 >= argc) {                                                                 \
        free(args);                                                                        \
        return usage_error("%s needs a value", a);                                         \
      }                                                                                    \
      v = argv[++i];                                                                       \
    }                                                                                      \
  } while (0)
    if (no_more_flags || a[0] != '-' || a[1] == '\0') {
      if (!o.cmd)
        o.cmd = argv[i];
      else
        args[o.nargs++] = argv[i];
    } else if (!strcmp(a, "--")) {
      no_more_flags = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      free(args);
      return EXIT_OK;
    } else if (!strcmp(a, "--version")) {
      printf("ocrpc %s\n", OCRPC_VERSION);
      free(args);
      return EXIT_OK;
    } else if (!strcmp(a, "-s") || !strcmp(a, "--server")) {
      VALUE();
      o.target = v;
    } else if (!strcmp(a, "--timeout")) {
      VALUE();
      if (client_duration_parse(v, &o.timeout_ms) || o.timeout_ms == 0) {
        free(args);
        return usage_error("--timeout: \"%s\" is not a duration (e.g. 30s, 500ms)", v);
      }
    } else if (!strcmp(a, "--language")) {
      VALUE();
      o.language = v;
    } else if (!strcmp(a, "--angle")) {
      o.angle = 1;
    } else if (!strcmp(a, "--path") || !strcmp(a, "--server-paths")) {
      o.path_mode = 1;
      if (v) /* --path=P */
        args[o.nargs++] = (char *)v;
    } else if (!strcmp(a, "--batch-id")) {
      VALUE();
      o.batch_id = v;
    } else if (!strcmp(a, "--json")) {
      o.json = 1;
    } else if (!strcmp(a, "--token")) {
      VALUE();
      if (!*v || strlen(v) > 4096 || strpbrk(v, " \t\r\n")) {
        free(args);
        return usage_error("--token: 1 to 4096 characters without blanks");
      }
      o.token = v;
    } else if (!strcmp(a, "--prompt")) {
      VALUE();
      o.an.prompt = v;
    } else if (!strcmp(a, "--engine")) {
      VALUE();
      o.an.engine = v;
    } else if (!strcmp(a, "--model")) {
      VALUE();
      o.an.model = v;
    } else if (!strcmp(a, "--temperature")) {
      VALUE();
      o.an.temperature = v;
    } else if (!strcmp(a, "--max-tokens")) {
      VALUE();
      o.an.max_tokens = v;
    } else if (!strcmp(a, "--image")) {
      VALUE();
      o.an.image = v;
    } else if (!strcmp(a, "--whole")) {
      o.an.whole = 1;
    } else {
      free(args);
      return usage_error("unknown option %s", a);
    }
#undef VALUE
  }
  o.args = args;
  char *targets = strdup(o.target);
  if (!targets) {
    free(args);
    return EXIT_SERVER;
  }
  int bad_target = 0;
  char host[256], port[16];
  for (char *save = NULL, *t = strtok_r(targets, ",", &save); t;
       t = strtok_r(NULL, ",", &save)) {
    if (o.ntargets == MAX_TARGETS ||
        client_target_parse(t, host, sizeof host, port, sizeof port))
      bad_target = 1;
    else
      o.targets[o.ntargets++] = t;
  }
  /* Successive runs (a shell loop, a pool of workers) start on different
   * targets, so that the load spreads. */
  if (o.ntargets)
    o.first_target =
        (int)(((unsigned)getpid() ^ (unsigned)time(NULL)) % (unsigned)o.ntargets);
  int ex;
  if (!o.cmd)
    ex = usage_error("no command given");
  else if (bad_target || o.ntargets == 0)
    ex = usage_error("bad server address \"%s\" (want host:port[,host:port...])", o.target);
  else if (!strcmp(o.cmd, "extract"))
    ex = cmd_extract(&o);
  else if (!strcmp(o.cmd, "batch"))
    ex = cmd_batch(&o);
  else if (!strcmp(o.cmd, "health"))
    ex = cmd_health(&o);
  else if (!strcmp(o.cmd, "status"))
    ex = cmd_status(&o);
  else if (!strcmp(o.cmd, "analyze")) {
    o.an.target = o.target;
    o.an.timeout_ms = o.timeout_ms;
    o.an.language = o.language;
    o.an.file = o.nargs ? o.args[0] : NULL;
    ex = o.nargs > 1 ? usage_error("analyze takes at most one FILE") : cli_analyze(&o.an);
  } else
    ex = usage_error("unknown command \"%s\"", o.cmd);
  free(args);
  free(targets);
  fflush(stdout);
  return ex;
}
