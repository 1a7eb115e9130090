/* SPDX-License-Identifier: MIT */
/* The table-driven configuration (redis' standardConfig style). Each entry
 * knows how to parse and bound its value, so environment and flags share
 * one path and every bad value is an error naming the setting. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "base/version.h"

typedef enum { T_STR, T_INT, T_U64, T_ENUM, T_LEVEL } ctype;

typedef struct centry {
  const char *env;
  const char *flag;
  ctype type;
  size_t offset;
  size_t size; /* for strings: buffer size */
  int64_t min, max;
  const char *def; /* default, as text; NULL: computed */
  const char *const *choices;
  const char *help;
} centry;

static const char *const engines[] = {"tesseract", "mock", NULL};
static const char *const on_off_auto[] = {"auto", "on", "off", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const on_off[] = {"on", "off", NULL};
static const char *const llm_engines[] = {"auto", "rules", "openai", NULL};
static const char *const split_modes[] = {"auto", "off", NULL};

#define OFF(f) offsetof(config, f), sizeof(((config *)0)->f)
static const centry table[] = {
    {"GRPC_HOST", "--host", T_STR, OFF(host), 0, 0, "::", NULL,
     "address to listen on (\"::\" is every IPv4 and IPv6 address)"},
    {"GRPC_PORT", "--port", T_INT, OFF(port), 0, 65535, "50051", NULL,
     "TCP port; 0 picks a free port and logs it"},
    {"OCR_ENGINE", "--engine", T_ENUM, OFF(engine), 0, 0, "tesseract", engines,
     "OCR engine: tesseract, or mock (fixed answer, for RPC benchmarks)"},
    {"OCR_IMAGE_ROOT", "--image-root", T_STR, OFF(image_root), 0, 0, ".", NULL,
     "directory request paths resolve inside and may not leave"},
    {"OCR_WORKERS", "--workers", T_INT, OFF(workers), 1, 1024, NULL, NULL,
     "OCR worker threads"},
    {"OCR_DEFAULT_LANGUAGE", "--language", T_STR, OFF(language), 0, 0, "korean", NULL,
     "language when a request names none"},
    {"REDIS_URL", "--redis-url", T_STR, OFF(redis_url), 0, 0, "", NULL,
     "redis://[:password@]host:port/db, redis+sentinel://host:port,host:port/mastername "
     "or unix:///path; unset: in-process job store"},
    {"GRPC_MAX_MESSAGE_BYTES", "--max-message-bytes", T_U64, OFF(max_message_bytes), 16,
     INT32_MAX, "104857600", NULL, "largest request or response message"},
    {"LOG_LEVEL", "--log-level", T_LEVEL, OFF(log_level), 0, 0, "info", NULL,
     "debug, info, warn or error"},
    {"OCR_MAX_PIXELS", "--max-pixels", T_U64, OFF(max_pixels), 1, INT64_MAX, "100000000",
     NULL, "largest image, in pixels (width x height)"},
    {"GRPC_MAX_CONCURRENT_STREAMS", "--max-concurrent-streams", T_INT,
     OFF(max_concurrent_streams), 1, INT32_MAX, "256", NULL,
     "HTTP/2 streams per connection"},
    {"GRPC_MAX_HEADER_LIST_BYTES", "--max-header-list-bytes", T_U64,
     OFF(max_header_list_bytes), 1024, 16 * 1024 * 1024, "65536", NULL,
     "largest request header block (and trailer block), counted as HTTP/2 does: name + "
     "value + 32 per field; over it the call fails with RESOURCE_EXHAUSTED. A single "
     "field is also bounded at 64 KiB by the HPACK decoder: a longer one is a "
     "connection error (GOAWAY COMPRESSION_ERROR)"},
    {"GRPC_INITIAL_WINDOW_BYTES", "--initial-window-bytes", T_U64,
     OFF(initial_window_bytes), 65535, INT32_MAX, "16777216", NULL,
     "HTTP/2 flow-control window per stream and per connection"},
    {"OCR_BATCH_PARALLELISM", "--batch-parallelism", T_INT, OFF(batch_parallelism), 0, 1024,
     "0", NULL, "images of one batch in flight at once; 0 means the number of workers"},
    {"OCR_JOB_TTL_SECONDS", "--job-ttl-seconds", T_U64, OFF(job_ttl_seconds), 1,
     365 * 24 * 3600, "86400", NULL, "how long job status is kept after its last update"},
    {"OCR_RESULT_CACHE", "--result-cache", T_ENUM, OFF(result_cache), 0, 0, "auto",
     on_off_auto,
     "cache results by image SHA-256 + language + options in the job store: "
     "auto (on with REDIS_URL), on or off"},
    {"OCR_RESULT_CACHE_TTL_SECONDS", "--result-cache-ttl-seconds", T_U64,
     OFF(result_cache_ttl_seconds), 1, 365 * 24 * 3600, "86400", NULL,
     "how long a cached result is kept"},
    {"GRPC_DRAIN_SECONDS", "--drain-seconds", T_INT, OFF(drain_seconds), 0, 3600, "30",
     NULL, "on SIGTERM, how long calls in flight may take to finish"},
    {"GRPC_KEEPALIVE_TIME_MS", "--keepalive-time-ms", T_U64, OFF(keepalive_time_ms), 10,
     INT32_MAX, "7200000", NULL, "ping each connection this often to find dead peers"},
    {"GRPC_KEEPALIVE_TIMEOUT_MS", "--keepalive-timeout-ms", T_U64,
     OFF(keepalive_timeout_ms), 10, INT32_MAX, "20000", NULL,
     "close a connection whose keepalive ping is not answered within this"},
    {"GRPC_MIN_PING_INTERVAL_MS", "--min-ping-interval-ms", T_U64,
     OFF(min_ping_interval_ms), 0, INT32_MAX, "300000", NULL,
     "client pings closer than this while no call is active are strikes"},
    {"GRPC_MAX_PING_STRIKES", "--max-ping-strikes", T_INT, OFF(max_ping_strikes), 0, 1000,
     "2", NULL, "strikes allowed before GOAWAY ENHANCE_YOUR_CALM too_many_pings"},
    {"GRPC_MAX_CONNECTION_IDLE_MS", "--max-connection-idle-ms", T_U64,
     OFF(max_connection_idle_ms), 0, INT32_MAX, "0", NULL,
     "close connections without calls for this long with GOAWAY; 0: never"},
    {"TESSDATA_PREFIX", "--tessdata-dir", T_STR, OFF(tessdata_dir), 0, 0, "", NULL,
     "directory of the *.traineddata files"},
    {"AUTH_TOKEN_FILE", "--auth-token-file", T_STR, OFF(auth_token_file), 0, 0, "", NULL,
     "file of bearer tokens, one per line (reloaded on SIGHUP): every call but health "
     "needs 'authorization: Bearer TOKEN'; unset: no token needed"},
    {"AUTH_REFLECTION", "--auth-reflection", T_ENUM, OFF(auth_reflection), 0, 0, "on",
     on_off, "with --auth-token-file: whether reflection needs the token too (on, off)"},
    {"OCR_JOB_LEASE_SECONDS", "--job-lease-seconds", T_INT, OFF(job_lease_seconds), 1, 3600,
     "15", NULL,
     "Redis store: a running batch whose server renewed nothing for this long "
     "reads as ABANDONED"},
    {"OCR_MAX_PAGES", "--max-pages", T_INT, OFF(max_pages), 1, 10000, "100", NULL,
     "pages of one multi-page TIFF or PDF; documents with more are refused"},
    {"OCR_PDF_DPI", "--pdf-dpi", T_INT, OFF(pdf_dpi), 36, 1200, "300", NULL,
     "resolution PDF pages are rendered at for recognition"},
    {"LLM_ENGINE", "--llm-engine", T_ENUM, OFF(llm_engine), 0, 0, "auto", llm_engines,
     "llm.LLMService engine: rules, openai, or auto (openai when LLM_BASE_URL is set)"},
    {"LLM_BASE_URL", "--llm-base-url", T_STR, OFF(llm_base_url), 0, 0, "", NULL,
     "OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1"},
    {"LLM_MODEL", "--llm-model", T_STR, OFF(llm_model), 0, 0, "", NULL,
     "model name sent to the backend"},
    {"LLM_API_KEY", "--llm-api-key", T_STR, OFF(llm_api_key), 0, 0, "", NULL,
     "bearer token for the backend (never logged)"},
    {"LLM_API_KEY_FILE", "--llm-api-key-file", T_STR, OFF(llm_api_key_file), 0, 0, "", NULL,
     "file holding the bearer token (first line)"},
    {"LLM_TIMEOUT_MS", "--llm-timeout-ms", T_U64, OFF(llm_timeout_ms), 1, INT32_MAX, "120000",
     NULL, "longest backend request, whole or streamed"},
    {"LLM_MAX_CONCURRENT", "--llm-max-concurrent", T_INT, OFF(llm_max_concurrent), 1, 100000,
     "16", NULL, "backend requests in flight; more callers wait in a queue"},
    {"LLM_MAX_QUEUED", "--llm-max-queued", T_INT, OFF(llm_max_queued), 0, 1000000, "64", NULL,
     "callers waiting for the backend; beyond this: UNAVAILABLE"},
    {"LLM_STREAM_COALESCE_US", "--llm-stream-coalesce-us", T_U64,
     OFF(llm_stream_coalesce_us), 0, 60000000, "500", NULL,
     "AnalyzeTextStream: backend tokens arriving less than this many microseconds after "
     "the previous message go out together in the next one; 0: one message per token"},
    {"HTTP_PORT", "--http-port", T_STR, OFF(http_port), 0, 0, "8000", NULL,
     "HTTP/1.1 port for REST and health (0 picks a free port and logs it; off: none; "
     "the gRPC port answers HTTP/1.1 too)"},
    {"HTTP_HEADER_TIMEOUT_MS", "--http-header-timeout-ms", T_U64,
     OFF(http_header_timeout_ms), 100, INT32_MAX, "10000", NULL,
     "close an HTTP/1.1 connection whose request headers take longer than this"},
    {"HTTP_IDLE_TIMEOUT_MS", "--http-idle-timeout-ms", T_U64, OFF(http_idle_timeout_ms),
     100, INT32_MAX, "60000", NULL,
     "close an idle HTTP/1.1 keep-alive connection (or a stalled body) after this"},
    {"LOG_FORMAT", "--log-format", T_ENUM, OFF(log_format), 0, 0, "text", log_formats,
     "every log line as text, or as one JSON object: text or json"},
    {"ACCESS_LOG", "--access-log", T_ENUM, OFF(access_log), 0, 0, "on", on_off,
     "one log line per call (gRPC and REST), buffered: on or off"},
    {"OCR_MAX_BATCH_IMAGES", "--max-batch-images", T_U64, OFF(max_batch_images), 1, 1000000,
     "10000", NULL,
     "images in one ExtractTextBatch; more is RESOURCE_EXHAUSTED before decoding"},
    {"GRPC_HANDSHAKE_TIMEOUT_MS", "--handshake-timeout-ms", T_U64,
     OFF(handshake_timeout_ms), 100, INT32_MAX, "20000", NULL,
     "close a connection that has not sent the HTTP/2 preface and SETTINGS within this"},
    {"GRPC_MAX_CONNECTIONS", "--max-connections", T_INT, OFF(max_connections), 1, 1000000,
     "50000", NULL,
     "connections open at once (keep it under ulimit -n); beyond it new ones are closed "
     "at once"},
    {"OCR_JOB_STORE_MAX_BATCHES", "--job-store-max-batches", T_U64,
     OFF(job_store_max_batches), 0, INT64_MAX, "10000", NULL,
     "in-process job store (no REDIS_URL): batches kept; past it the least recently "
     "updated are evicted first; 0: no bound"},
    {"OCR_JOB_STORE_MAX_BYTES", "--job-store-max-bytes", T_U64, OFF(job_store_max_bytes), 0,
     INT64_MAX, "67108864", NULL,
     "in-process job store: bytes of batch status and results kept, evicted the same "
     "way; 0: no bound"},
    {"OCR_MAX_QUEUED_JOBS", "--max-queued-jobs", T_INT, OFF(max_queued_jobs), 0, 1000000,
     "0", NULL,
     "recognitions waiting for a worker; beyond it calls are refused at once with "
     "UNAVAILABLE; 0: 4 per worker"},
    {"OCR_SHED_BY_DEADLINE", "--shed-by-deadline", T_ENUM, OFF(shed_by_deadline), 0, 0,
     "on", on_off,
     "on: a call whose grpc-timeout the recognitions queued ahead would miss (queued x "
     "mean run time / workers) is refused at once with UNAVAILABLE"},
    {"TLS_CERT", "--tls-cert", T_STR, OFF(tls_cert), 0, 0, "", NULL,
     "PEM certificate chain: TLS 1.2+ on both ports, ALPN h2 and http/1.1 (reloaded on "
     "SIGHUP)"},
    {"TLS_KEY", "--tls-key", T_STR, OFF(tls_key), 0, 0, "", NULL,
     "PEM private key of --tls-cert (reloaded on SIGHUP)"},
    {"TLS_CLIENT_CA", "--tls-client-ca", T_STR, OFF(tls_client_ca), 0, 0, "", NULL,
     "PEM CA certificates: require client certificates they signed (mutual TLS)"},
    {"OCR_SPLIT_PAGES", "--split-pages", T_ENUM, OFF(split_pages), 0, 0, "auto",
     split_modes,
     "auto: a page read while other workers are idle is cut into its blocks and read on "
     "them at once; off: every page on one worker"},
};
#define NENTRIES (sizeof table / sizeof table[0])

static int set_value(config *cfg, const centry *e, const char *v, const char *src,
                     char *err, size_t errsize) {
  char *p = (char *)cfg + e->offset;
  switch (e->type) {
  case T_STR:
    if (strlen(v) >= e->size) {
      snprintf(err, errsize, "%s (%s): value too long", e->flag, src);
      return ERR_CONFIG;
    }
    strcpy(p, v);
    return 0;
  case T_ENUM:
    for (const char *const *c = e->choices; *c; c++) {
      if (strcmp(*c, v) == 0) {
        snprintf(p, e->size, "%s", v);
        return 0;
      }
    }
    snprintf(err, errsize, "%s (%s): '%s' is not one of the choices (see --help)", e->flag,
             src, v);
    return ERR_CONFIG;
  case T_LEVEL: {
    int l = log_level_parse(v);
    if (l < 0) {
      snprintf(err, errsize, "%s (%s): '%s' is not debug, info, warn or error", e->flag,
               src, v);
      return ERR_CONFIG;
    }
    *(int *)p = l;
    return 0;
  }
  case T_INT:
  case T_U64: {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < e->min || n > e->max) {
      snprintf(err, errsize,
               "%s (%s): '%s' is not a whole number from %" PRId64 " to %" PRId64, e->flag,
               src, v, e->min, e->max);
      return ERR_CONFIG;
    }
    if (e->type == T_INT)
      *(int *)p = (int)n;
    else
      *(uint64_t *)p = (uint64_t)n;
    return 0;
  }
  }
  return ERR_CONFIG;
}

static const char *env_get(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
      return *e + n + 1;
  return NULL;
}

int config_result_cache_on(const config *cfg) {
  return strcmp(cfg->result_cache, "on") == 0 ||
         (strcmp(cfg->result_cache, "auto") == 0 && cfg->redis_url[0] != 0);
}

/* 1 when host is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
static int is_loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) ||
           (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return 0;
}

int config_workdir_exposed(const config *cfg, char *root, size_t rootsize) {
  char r[PATH_MAX], cwd[PATH_MAX], cwd_real[PATH_MAX];
  if (is_loopback(cfg->host) || !realpath(cfg->image_root, r) || !getcwd(cwd, sizeof cwd) ||
      !realpath(cwd, cwd_real) || strcmp(r, cwd_real) != 0)
    return 0;
  snprintf(root, rootsize, "%s", r);
  return 1;
}

/* Defaults whose text (or absence: computed) would not tell a reader what
 * they mean, as --help shows them instead. */
static const struct {
  const char *flag, *shown;
} shown_defaults[] = {
    {"--workers", "cores"},
    {"--batch-parallelism", "0 (workers)"},
    {"--tessdata-dir", "Debian's"},
};

static const char *shown_default(const centry *e) {
  for (size_t i = 0; i < sizeof shown_defaults / sizeof shown_defaults[0]; i++)
    if (strcmp(shown_defaults[i].flag, e->flag) == 0)
      return shown_defaults[i].shown;
  return e->def && *e->def ? e->def : "unset";
}

/* Two lines per setting: flag, variable and default in aligned columns
 * (widths from the table, so a long name never breaks them), then the
 * meaning, indented; help2man turns each entry into a man page item. */
void config_usage(FILE *out, const char *prog) {
  (void)prog; /* the installed name, not the path it was run by (man page) */
  int wflag = (int)strlen("--version"), wenv = 0;
  for (size_t i = 0; i < NENTRIES; i++) {
    if ((int)strlen(table[i].flag) > wflag)
      wflag = (int)strlen(table[i].flag);
    if ((int)strlen(table[i].env) > wenv)
      wenv = (int)strlen(table[i].env);
  }
  fprintf(out, "usage: ocrpc-server [flags]\n\n"
               "Serves OCR over gRPC (ocr.OCRService, grpc.health.v1, reflection).\n"
               "Each setting is an environment variable and a flag (--flag VALUE or\n"
               "--flag=VALUE); the flag wins.\n\nSettings:\n");
  for (size_t i = 0; i < NENTRIES; i++) {
    const centry *e = &table[i];
    fprintf(out, "  %-*s  %-*s  default: %s\n        %s\n", wflag, e->flag, wenv, e->env,
            shown_default(e), e->help);
  }
  fprintf(out, "\nOther flags:\n  %-*s  print this and exit\n", wflag, "--help");
  fprintf(out, "  %-*s  print the version and exit\n", wflag, "--version");
}

/* HTTP_PORT is a port number or "off": the table has no such type. */
static int check_http_port(config *cfg, char *err, size_t errsize) {
  if (strcmp(cfg->http_port, "off") == 0) {
    cfg->http_port_num = -1;
    return 0;
  }
  char *end;
  errno = 0;
  long n = strtol(cfg->http_port, &end, 10);
  if (errno || end == cfg->http_port || *end || n < 0 || n > 65535) {
    snprintf(err, errsize, "--http-port: '%s' is not a port from 0 to 65535 or 'off'",
             cfg->http_port);
    return ERR_CONFIG;
  }
  cfg->http_port_num = (int)n;
  return 0;
}

int config_load(config *cfg, int argc, char **argv, char **env, FILE *out, char *err,
                size_t errsize) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < NENTRIES; i++) {
    const centry *e = &table[i];
    if (e->def && set_value(cfg, e, e->def, "default", err, errsize))
      return ERR_CONFIG;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cfg->workers = cores > 0 ? (int)cores : 1;

  for (size_t i = 0; i < NENTRIES; i++) {
    const char *v = env_get(env, table[i].env);
    if (v && *v && set_value(cfg, &table[i], v, table[i].env, err, errsize))
      return ERR_CONFIG;
  }

  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      config_usage(out, argv[0]);
      return 1;
    }
    if (strcmp(arg, "--version") == 0) {
      fprintf(out, "ocrpc-server %s\n", OCRPC_VERSION);
      return 1;
    }
    const char *eq = strchr(arg, '=');
    size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);
    const centry *e = NULL;
    for (size_t i = 0; i < NENTRIES; i++)
      if (strlen(table[i].flag) == namelen && strncmp(table[i].flag, arg, namelen) == 0)
        e = &table[i];
    if (!e) {
      snprintf(err, errsize, "unknown flag '%s' (see --help)", arg);
      return ERR_CONFIG;
    }
    const char *v;
    if (eq) {
      v = eq + 1;
    } else if (a + 1 < argc) {
      v = argv[++a];
    } else {
      snprintf(err, errsize, "%s needs a value", e->flag);
      return ERR_CONFIG;
    }
    if (set_value(cfg, e, v, "flag", err, errsize))
      return ERR_CONFIG;
  }
  if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
    snprintf(err, errsize, "--tls-cert and --tls-key go together: set both or neither");
    return ERR_CONFIG;
  }
  if (cfg->tls_client_ca[0] && !cfg->tls_cert[0]) {
    snprintf(err, errsize, "--tls-client-ca needs --tls-cert and --tls-key");
    return ERR_CONFIG;
  }
  return check_http_port(cfg, err, errsize);
}
