/* SPDX-License-Identifier: MIT */
/* POST /ocr/extract: the guide's JSON request (or the raw image as the
 * body, settings in the query) becomes one recognition of the app layer;
 * its result becomes the guide's JSON answer, and an in-band failure an
 * HTTP status with a FastAPI-style body. Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/text.h"
#include "base/ocrpc_alloc.h"
#include "rest_internal.h"

/* One recognition in flight. Owns every byte the recognition reads: the
 * connection (and its request) may go away while a worker reads them. */
typedef struct extract_work {
  app_recog r; /* first: app hands back &r */
  rest_work w;
  int *answered_now; /* set while app_recog_start runs */
  int cache_off;     /* options["cache"] == "off": no lookup, no store */
  uint8_t *image;    /* raw body or decoded base64 */
  char *path, *language;
} extract_work;

static void work_free(extract_work *x) {
  app_recog_clear(&x->r);
  free(x->image);
  free(x->path);
  free(x->language);
  free(x);
}

/* The HTTP status of an in-band failure (README "REST API"). */
static int status_of(int err) {
  switch (err) {
  case ERR_NOT_FOUND:
    return 404;
  case ERR_FORBIDDEN_PATH:
    return 403;
  case ERR_DECODE:
  case ERR_INVAL:
  case ERR_LANGUAGE:
  case ERR_PDF:
  case ERR_PDF_ENCRYPTED:
    return 422;
  case ERR_UNSUPPORTED_FORMAT:
    return 415;
  case ERR_TOO_LARGE:
    return 413;
  case ERR_CANCELLED:
    return 503;
  default:
    return 500;
  }
}

static void add_int(cJSON *o, const char *k, long v) {
  char b[32];
  snprintf(b, sizeof b, "%ld", v);
  cJSON_AddStringToObject(o, k, b);
}

static void add_ms(cJSON *o, const char *k, double ms) {
  char b[32];
  snprintf(b, sizeof b, "%.3f", ms > 0 ? ms : 0);
  cJSON_AddStringToObject(o, k, b);
}

/* The same metadata, as strings, as the gRPC answer's map. */
static cJSON *metadata(const app_recog *r, ocr_engine *eng) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "engine", ocr_engine_name(eng));
  cJSON_AddStringToObject(m, "engine_version", ocr_engine_version(eng));
  if (r->out.language[0])
    cJSON_AddStringToObject(m, "language", r->out.language);
  add_int(m, "image_width", r->out.width);
  add_int(m, "image_height", r->out.height);
  add_ms(m, "queue_ms", app_recog_queue_ms(r));
  add_ms(m, "ocr_ms", r->out.ocr_ms);
  add_int(m, "rotation", r->out.rotation);
  if (r->out.pages > 1)
    add_int(m, "pages", r->out.pages);
  if (r->out.orientation > 1)
    add_int(m, "exif_orientation", r->out.orientation);
  if (r->out.parts > 0) {
    add_int(m, "parts", r->out.parts);
    add_int(m, "part_workers", r->out.part_workers);
  }
  if (r->out.timed) {
    add_ms(m, "decode_ms", r->out.decode_ms);
    add_ms(m, "orientation_ms", r->out.orientation_ms);
    add_ms(m, "layout_ms", r->out.layout_ms);
    add_ms(m, "recognition_ms", r->out.recognition_ms);
    add_ms(m, "encode_ms", r->out.encode_ms);
  }
  if (r->cache)
    cJSON_AddStringToObject(m, "cache", r->cache == APP_CACHE_HIT ? "hit" : "miss");
  return m;
}

static void answer(rest_server *rs, void *conn, const app_recog *r) {
  const ocr_result *o = &r->out;
  if (o->err) {
    /* The times first: rest__error notes the failure itself. */
    if (rs->tr->note)
      rs->tr->note(conn, NULL, NULL, app_recog_queue_ms(r), o->ocr_ms);
    rest__error(rs, conn, status_of(o->err), "OCR_ERROR",
                o->error_message ? o->error_message : err_text(o->err), err_name(o->err));
    return;
  }
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "status", "success");
  cJSON_AddStringToObject(j, "text", o->text ? o->text : "");
  cJSON_AddNumberToObject(j, "confidence", o->confidence);
  cJSON *boxes = cJSON_AddArrayToObject(j, "text_boxes");
  for (size_t i = 0; i < o->nboxes; i++) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "text", o->boxes[i].text ? o->boxes[i].text : "");
    cJSON_AddNumberToObject(b, "confidence", o->boxes[i].confidence);
    cJSON *q = cJSON_AddArrayToObject(b, "bbox");
    for (int k = 0; k < 8; k++)
      cJSON_AddItemToArray(q, cJSON_CreateNumber(o->boxes[i].quad[k]));
    cJSON_AddNumberToObject(b, "page", o->boxes[i].page);
    cJSON_AddItemToArray(boxes, b);
  }
  cJSON_AddItemToObject(j, "metadata", metadata(r, r->_app->engine));
  if (rs->tr->note)
    rs->tr->note(conn, "SUCCESS", NULL, app_recog_queue_ms(r), o->ocr_ms);
  rest__json(rs, conn, 200, j, NULL, 0);
}

static void on_done(app_recog *r, int status) {
  extract_work *x = (extract_work *)r;
  rest_server *rs = x->w.rs;
  rs->busy--;
  if (x->answered_now)
    *x->answered_now = 1;
  if (x->w.conn) {
    if (status)
      rest__error(rs, x->w.conn, 503, "UNAVAILABLE",
                  status == ERR_CANCELLED ? "the server is shutting down"
                                          : "the server cannot take work now",
                  "UNAVAILABLE");
    else
      answer(rs, x->w.conn, r);
  }
  work_free(x);
}

static void cancel(rest_work *w) {
  extract_work *x = (extract_work *)((char *)w - offsetof(extract_work, w));
  w->conn = NULL;
  if (app_recog_cancel(&x->r)) { /* ended while waiting for the store */
    x->w.rs->busy--;
    work_free(x);
  }
}

/* ---- reading the request ---- */

/* Reads the JSON body into x. Returns 0, or answers (400/422) and
 * returns -1. */
static int read_json(rest_server *rs, void *conn, const rest_request *req,
                     extract_work *x) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts((const char *)req->body, req->body_len, &end, 0);
  char msg[160];
  if (!j) {
    size_t at = end ? (size_t)(end - (const char *)req->body) : 0;
    snprintf(msg, sizeof msg, "invalid JSON at byte %zu of %zu", at, req->body_len);
    rest__error(rs, conn, 400, "OCR_ERROR", msg, "INVALID_JSON");
    return -1;
  }
  const char *bad = NULL;
  if (!cJSON_IsObject(j))
    bad = "the body must be a JSON object";
  cJSON *f;
  ocr_request *in = &x->r.in;
#define STRING_FIELD(name, dst)                                                            \
  if (!bad && (f = cJSON_GetObjectItemCaseSensitive(j, name)) && !cJSON_IsNull(f)) {       \
    if (!cJSON_IsString(f))                                                                \
      bad = name " must be a string";                                                      \
    else if (*f->valuestring)                                                              \
      dst = ocrpc_strdup(f->valuestring);                                                  \
  }
  char *priv = NULL, *pub = NULL, *b64 = NULL;
  STRING_FIELD("private_image_path", priv)
  STRING_FIELD("public_image_path", pub)
  STRING_FIELD("image_base64", b64)
  STRING_FIELD("language", x->language)
#undef STRING_FIELD
  if (!bad && (f = cJSON_GetObjectItemCaseSensitive(j, "confidence_threshold")) &&
      !cJSON_IsNull(f)) {
    if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 1)
      bad = "confidence_threshold must be a number from 0 to 1";
    else
      in->confidence_threshold = (float)f->valuedouble;
  }
  if (!bad && (f = cJSON_GetObjectItemCaseSensitive(j, "use_angle_cls")) &&
      !cJSON_IsNull(f)) {
    if (!cJSON_IsBool(f))
      bad = "use_angle_cls must be true or false";
    else
      in->use_angle_cls = cJSON_IsTrue(f);
  }
  if (!bad && (f = cJSON_GetObjectItemCaseSensitive(j, "options")) && !cJSON_IsNull(f)) {
    if (!cJSON_IsObject(f)) {
      bad = "options must be an object of strings";
    } else {
      /* psm as the gRPC front door reads it (ocr_psm_parse): a bad value
       * is refused by the engine, naming options.psm. */
      cJSON *psm = cJSON_GetObjectItemCaseSensitive(f, "psm");
      cJSON *cache = cJSON_GetObjectItemCaseSensitive(f, "cache");
      if (cJSON_IsString(psm))
        in->psm = ocr_psm_parse(psm->valuestring);
      else if (cJSON_IsNumber(psm))
        in->psm = psm->valuedouble >= 0 && psm->valuedouble <= 1000 &&
                          psm->valuedouble == (double)(int)psm->valuedouble
                      ? (int)psm->valuedouble
                      : OCR_PSM_INVALID;
      else if (psm && !cJSON_IsNull(psm))
        in->psm = OCR_PSM_INVALID;
      x->cache_off = cJSON_IsString(cache) && strcmp(cache->valuestring, "off") == 0;
      cJSON *pdf_text = cJSON_GetObjectItemCaseSensitive(f, "pdf_text");
      in->pdf_text = cJSON_IsString(pdf_text) && strcmp(pdf_text->valuestring, "use") == 0;
      cJSON *timings = cJSON_GetObjectItemCaseSensitive(f, "timings");
      in->timings = cJSON_IsString(timings) && strcmp(timings->valuestring, "1") == 0;
    }
  }
  if (!bad && b64) {
    size_t len = strlen(b64);
    /* len is bounded: the body passed --max-message-bytes. */
    x->image = ocrpc_malloc(len / 4 * 3 + 3);
    ssize_t n = text_base64_decode(b64, len, x->image);
    if (n < 0)
      bad = "image_base64 is not base64";
    else
      in->data_len = (size_t)n;
    in->data = x->image;
  }
  cJSON_Delete(j);
  /* The image the gRPC front door would take: inline bytes first, then
   * the private path, then the public one. */
  if (!bad && in->data_len == 0) {
    x->path = priv ? priv : pub;
    if (priv == x->path)
      free(pub);
    else
      free(priv);
    priv = pub = NULL;
    in->path = x->path;
    if (!x->path)
      bad = "no image: set private_image_path, public_image_path or image_base64";
  }
  free(priv);
  free(pub);
  free(b64);
  if (bad) {
    rest__error(rs, conn, 422, "OCR_ERROR", bad, err_name(ERR_INVAL));
    return -1;
  }
  return 0;
}

/* Decodes %XX and '+' in place. */
static void url_decode(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '+') {
      *o++ = ' ';
    } else if (*s == '%' && text_hex_digit(s[1]) >= 0 && text_hex_digit(s[2]) >= 0) {
      *o++ = (char)(text_hex_digit(s[1]) * 16 + text_hex_digit(s[2]));
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* Reads a raw image body and the settings in the query. Returns 0, or
 * answers 422 and returns -1. */
static int read_raw(rest_server *rs, void *conn, const rest_request *req, extract_work *x) {
  ocr_request *in = &x->r.in;
  const char *bad = NULL;
  char *q = ocrpc_strdup(req->query);
  x->image = ocrpc_malloc(req->body_len ? req->body_len : 1);
  if (req->body_len)
    memcpy(x->image, req->body, req->body_len);
  in->data = x->image;
  in->data_len = req->body_len;
  char *save = NULL;
  for (char *kv = strtok_r(q, "&", &save); kv && !bad; kv = strtok_r(NULL, "&", &save)) {
    /* "key" alone: its value is the empty string at the key's end
     * (writable: url_decode writes its terminator). */
    char *v = strchr(kv, '=');
    if (v)
      *v++ = 0;
    else
      v = kv + strlen(kv);
    url_decode(kv);
    url_decode(v);
    char *end;
    if (strcmp(kv, "language") == 0) {
      free(x->language);
      x->language = ocrpc_strdup(v);
    } else if (strcmp(kv, "confidence_threshold") == 0) {
      double d = strtod(v, &end);
      if (end == v || *end || d < 0 || d > 1)
        bad = "confidence_threshold must be a number from 0 to 1";
      in->confidence_threshold = (float)d;
    } else if (strcmp(kv, "use_angle_cls") == 0) {
      if (!strcasecmp(v, "true") || !strcmp(v, "1"))
        in->use_angle_cls = 1;
      else if (!strcasecmp(v, "false") || !strcmp(v, "0"))
        in->use_angle_cls = 0;
      else
        bad = "use_angle_cls must be true or false";
    } else if (strcmp(kv, "psm") == 0) {
      in->psm = ocr_psm_parse(v);
    } else if (strcmp(kv, "timings") == 0) {
      in->timings = strcmp(v, "1") == 0;
    } else if (strcmp(kv, "cache") == 0) {
      x->cache_off = strcmp(v, "off") == 0;
    }
  }
  free(q);
  if (!bad && req->body_len == 0)
    bad = "no image: the body is empty";
  if (bad) {
    rest__error(rs, conn, 422, "OCR_ERROR", bad, err_name(ERR_INVAL));
    return -1;
  }
  return 0;
}

static int has_prefix(const char *v, size_t len, const char *p) {
  size_t n = strlen(p);
  return len >= n && strncasecmp(v, p, n) == 0;
}

rest_work *rest__extract(rest_server *rs, void *conn, const rest_request *req) {
  if (rs->draining) {
    rest__error(rs, conn, 503, "UNAVAILABLE", "the server is shutting down", "UNAVAILABLE");
    return NULL;
  }
  /* Shed as gRPC does, before the body is parsed or decoded: the queue
   * is full. No deadline: HTTP has no standard header for one and the
   * guide's clients send none; a client that gives up closes the
   * connection, which cancels its work. */
  char shed[160];
  if (app_admit(rs->app, APP_DOOR_HTTP, 0, shed, sizeof shed)) {
    rest__error(rs, conn, 503, "UNAVAILABLE", shed, "UNAVAILABLE");
    return NULL;
  }
  size_t ctlen = 0;
  const char *ct = rest__header(req, "content-type", &ctlen);
  int raw = ct && (has_prefix(ct, ctlen, "image/") ||
                   has_prefix(ct, ctlen, "application/octet-stream"));
  if (ct && !raw && !has_prefix(ct, ctlen, "application/json")) {
    rest__error(rs, conn, 415, "OCR_ERROR",
                "send application/json, or the image as image/* or "
                "application/octet-stream",
                err_name(ERR_INVAL));
    return NULL;
  }
  extract_work *x = ocrpc_calloc(1, sizeof *x);
  app_recog_init(&x->r);
  x->w.rs = rs;
  x->w.conn = conn;
  x->w.cancel = cancel;
  if ((raw ? read_raw : read_json)(rs, conn, req, x)) {
    work_free(x);
    return NULL;
  }
  x->r.in.language = x->language;
  int now = 0;
  x->answered_now = &now;
  rs->busy++;
  int flags = APP_RECOG_INLINE | (x->cache_off ? APP_RECOG_NO_CACHE : 0);
  if (app_recog_start(rs->app, &x->r, flags, on_done)) {
    rs->busy--;
    work_free(x);
    rest__error(rs, conn, 503, "UNAVAILABLE", "the server cannot take work now",
                "UNAVAILABLE");
    return NULL;
  }
  if (now)
    return NULL; /* answered, and x freed */
  x->answered_now = NULL;
  return &x->w;
}
