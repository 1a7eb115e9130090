/* SPDX-License-Identifier: MIT */
/* The server's settings: one table (name, environment variable, flag,
 * type, bounds, default, help), read as defaults, then environment, then
 * flags; validated once and read-only afterwards. Modules receive a const
 * config and never call getenv. Loop thread, at start. */
#ifndef OCRPC_BASE_CONFIG_H
#define OCRPC_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config {
  char host[256];
  int port;
  char engine[16]; /* "tesseract" or "mock" */
  char image_root[4096];
  int workers;
  char language[64];
  char redis_url[512];
  uint64_t max_message_bytes;
  int log_level;
  uint64_t max_pixels;
  int max_concurrent_streams;
  uint64_t max_header_list_bytes;
  uint64_t initial_window_bytes;
  int batch_parallelism; /* 0: workers */
  uint64_t job_ttl_seconds;
  /* "auto" (on when redis_url is set), "on" or "off"; see
   * config_result_cache_on. */
  char result_cache[8];
  uint64_t result_cache_ttl_seconds;
  int drain_seconds;
  uint64_t keepalive_time_ms;
  uint64_t keepalive_timeout_ms;
  uint64_t min_ping_interval_ms;
  int max_ping_strikes;
  uint64_t max_connection_idle_ms; /* 0: off */
  char tessdata_dir[1024];         /* "": Tesseract's default */
  char auth_token_file[4096];      /* "": no token needed */
  char auth_reflection[4];         /* "on": reflection needs the token; "off" */
  int job_lease_seconds;           /* Redis store: batch lease (see jobs.h) */
  int max_pages;                   /* pages of one TIFF or PDF */
  int pdf_dpi;                     /* PDF rendering resolution */
  /* llm.LLMService */
  char llm_engine[8]; /* "auto" (openai with a base URL, else rules), "rules", "openai" */
  char llm_base_url[1024];
  char llm_model[256];
  char llm_api_key[1024]; /* never logged or echoed */
  char llm_api_key_file[1024];
  uint64_t llm_timeout_ms;
  int llm_max_concurrent;
  int llm_max_queued;
  uint64_t llm_stream_coalesce_us; /* AnalyzeTextStream's least gap between messages */
  char http_port[8];               /* "8000", "0" or "off" */
  int http_port_num;               /* the same as a number; -1: off */
  uint64_t http_header_timeout_ms; /* slowloris: whole header block */
  uint64_t http_idle_timeout_ms;   /* keep-alive idle, or a stalled body */
  char log_format[8];              /* "text" or "json" */
  char access_log[8];              /* "on" or "off" */
  uint64_t max_batch_images;       /* entries of one ExtractTextBatch */
  uint64_t handshake_timeout_ms;   /* preface + SETTINGS within this */
  int max_connections;             /* open at once; more are closed */
  uint64_t job_store_max_batches;  /* in-process store bounds (0: none) */
  uint64_t job_store_max_bytes;
  int max_queued_jobs;      /* waiting for a worker; 0: 4 per worker */
  char shed_by_deadline[8]; /* "on" or "off" */
  char tls_cert[1024];      /* PEM chain; "" (with tls_key ""): plaintext */
  char tls_key[1024];       /* PEM private key */
  char tls_client_ca[1024]; /* PEM CAs for client certificates: mutual TLS */
  char split_pages[8];      /* "auto": pages read in parts on idle workers; "off" */
} config;

/* Fills cfg from defaults, then `env` (NULL-terminated "NAME=value" array,
 * like environ), then argv. Returns 0; 1 when --help or --version was printed
 * to out;
 * ERR_CONFIG with a one-line message in err (size errsize) naming the
 * setting for an unknown flag, a missing or bad value. */
int config_load(config *cfg, int argc, char **argv, char **env, FILE *out, char *err,
                size_t errsize);

/* Whether the result cache is on: result_cache "on", or "auto" with a
 * Redis URL (a cache only pays across retries that may land on another
 * server, which a shared store gives). */
int config_result_cache_on(const config *cfg);

/* 1 when the image root is the working directory and host is not a
 * loopback address (the defaults: worth a warning at start); the resolved
 * root is then copied to root (rootsize bytes). 0 otherwise, or when a
 * path cannot be resolved. */
int config_workdir_exposed(const config *cfg, char *root, size_t rootsize);

/* Prints the settings table (--help) to out. */
void config_usage(FILE *out, const char *prog);

#endif
