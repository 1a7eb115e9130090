/* SPDX-License-Identifier: MIT */
/* The bearer-token set of --auth-token-file: loaded at start (a bad file
 * stops the server with a message naming it), handed to the rpc layer, and
 * reloaded on SIGHUP (loop_run.c's handler), when a bad file keeps the tokens in use. Logs
 * counts and file names only, never a token. Loop thread. */
#include "base/auth.h"
#include "base/log.h"
#include "loop_internal.h"

#include <string.h>

void loop__auth_reload(loop_server *srv) {
  if (!srv->auth)
    return;
  auth_tokens *fresh = NULL;
  char err[512];
  if (auth_tokens_load(srv->cfg->auth_token_file, &fresh, err, sizeof err)) {
    log_warn("SIGHUP: %s; keeping the %zu tokens in use", err,
             auth_tokens_count(srv->auth));
    return;
  }
  /* The rpc layer reads the set only when a call starts: the old one can
   * go at once. */
  rpc_server_set_auth(srv->rpc, fresh);
  rest_server_set_auth(srv->rest, fresh);
  auth_tokens_free(srv->auth);
  srv->auth = fresh;
  log_info("SIGHUP: auth: %zu tokens reloaded from %s", auth_tokens_count(fresh),
           srv->cfg->auth_token_file);
}

int loop__auth_start(loop_server *srv) {
  if (!srv->cfg->auth_token_file[0])
    return 0;
  char err[512];
  if (auth_tokens_load(srv->cfg->auth_token_file, &srv->auth, err, sizeof err)) {
    log_error("%s", err);
    return -1;
  }
  rpc_server_set_auth(srv->rpc, srv->auth);
  rest_server_set_auth(srv->rest, srv->auth);
  log_info("auth: %zu tokens from %s; health open, reflection %s",
           auth_tokens_count(srv->auth), srv->cfg->auth_token_file,
           strcmp(srv->cfg->auth_reflection, "off") == 0 ? "open" : "needs a token");
  return 0;
}
