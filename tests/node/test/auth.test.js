// SPDX-License-Identifier: MIT
// Bearer-token authentication through grpc-js: without a token (or with a
// wrong one) ExtractText is UNAUTHENTICATED with the same message; with
// `authorization: Bearer T` it is served; health needs no token.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const H = require('../lib/harness');

const { grpc } = H;
const S = grpc.status;
const TOKEN = 'node-token-3b9f27c1';

let work;
let server;

before(async () => {
  work = H.tempDir('ocrpc-node-auth-');
  const file = path.join(work, 'tokens');
  fs.writeFileSync(file, `# test\n${TOKEN}\n`);
  server = await new H.Server(['--auth-token-file', file], { workers: 1 }).start();
  H.renderLine(server.path('a.png'), 'Token checked here');
});

after(async () => {
  if (server) await server.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function extract(client, md) {
  return new Promise((resolve) => {
    client.ExtractText({ private_image_path: 'a.png', language: 'english' }, md,
      { deadline: H.deadline(H.CALL_TIMEOUT_MS) }, (err, resp) => resolve({ err, resp }));
  });
}

function bearer(t) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${t}`);
  return md;
}

describe('bearer tokens', () => {
  it('no token and a wrong token: UNAUTHENTICATED, same message', async () => {
    const c = server.ocrClient();
    for (const md of [new grpc.Metadata(), bearer('wrong'), bearer(TOKEN.slice(0, -1))]) {
      const { err } = await extract(c, md);
      assert.ok(err, 'served without a valid token');
      assert.equal(err.code, S.UNAUTHENTICATED, err.details);
      assert.equal(err.details, 'missing or invalid token');
    }
  });

  it('the right token is served; health needs none', async () => {
    const { err, resp } = await extract(server.ocrClient(), bearer(TOKEN));
    assert.ifError(err);
    assert.equal(H.normText(resp.text), 'Token checked here');
    const h = server.healthClient();
    const r = await new Promise((resolve, reject) => h.Check({ service: '' },
      { deadline: H.deadline(H.CALL_TIMEOUT_MS) }, (e, x) => (e ? reject(e) : resolve(x))));
    assert.equal(r.status, 'SERVING');
    assert.ok(!server.stderr().includes(TOKEN), 'the token is in the log');
  });
});
