// SPDX-License-Identifier: MIT
// TLS through grpc-js (a second client stack beside grpcio's): the server
// started with a certificate of a CA made here by the openssl CLI. A call
// with createSsl(CA) is served (ExtractText and health); a client that does
// not trust the certificate (system roots only, or another CA) fails with
// UNAVAILABLE and the server goes on serving; under mutual TLS a client
// without a certificate is refused and one with a certificate is served.
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const H = require('../lib/harness');

const { grpc } = H;
const S = grpc.status;

let work;

function openssl(...args) {
  const r = spawnSync('openssl', args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

function makeCa(name, cn) {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`);
}

function makeCert(name, cn, { ca = 'ca', client = false } = {}) {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  const ext = path.join(work, `${name}.ext`);
  fs.writeFileSync(ext, client ? 'extendedKeyUsage=clientAuth\n'
    : 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext);
}

const file = (name) => fs.readFileSync(path.join(work, name));

before(() => {
  work = H.tempDir('ocrpc-node-tls-');
  makeCa('ca', 'ocrpc node test CA');
  makeCa('other', 'some other CA');
  makeCert('srv', 'localhost');
  makeCert('cli', 'node-worker', { client: true });
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function startTls(extra = []) {
  const server = await new H.Server(['--tls-cert', path.join(work, 'srv.pem'), '--tls-key',
    path.join(work, 'srv.key'), ...extra], { workers: 1 }).start();
  assert.match(server.stderr(), /over TLS/);
  return server;
}

// Clients dial "localhost:PORT" so that the name checked is the one in the
// certificate's subjectAltName.
function client(server, Ctor, creds) {
  const c = new Ctor(`localhost:${server.port}`, creds, H.CHANNEL_OPTIONS);
  server.clients.push(c);
  return c;
}

function check(c) {
  return new Promise((resolve) => c.Check({ service: '' },
    { deadline: H.deadline(H.CALL_TIMEOUT_MS) }, (err, resp) => resolve({ err, resp })));
}

describe('TLS', () => {
  it('a call over TLS with the CA is served; untrusted certificates fail', async () => {
    const server = await startTls();
    try {
      H.renderLine(server.path('a.png'), 'Served over TLS');
      const ocr = client(server, H.OCRService, grpc.credentials.createSsl(file('ca.pem')));
      const resp = await H.unary(ocr, 'ExtractText',
        { private_image_path: 'a.png', language: 'english' });
      assert.equal(H.normText(resp.text), 'Served over TLS');
      const ok = await check(client(server, H.Health, grpc.credentials.createSsl(file('ca.pem'))));
      assert.ifError(ok.err);
      assert.equal(ok.resp.status, 'SERVING');
      // The system roots do not include the test CA; another CA is no
      // better: the handshake fails and the call is UNAVAILABLE.
      for (const creds of [grpc.credentials.createSsl(),
        grpc.credentials.createSsl(file('other.pem'))]) {
        const { err } = await check(client(server, H.Health, creds));
        assert.ok(err, 'served over an untrusted certificate');
        assert.equal(err.code, S.UNAVAILABLE, err.details);
        assert.match(err.details, /unable to verify the first certificate/);
      }
      // Plaintext HTTP/2 on the TLS port is not served either.
      const { err } = await check(client(server, H.Health, grpc.credentials.createInsecure()));
      assert.ok(err, 'plaintext served on the TLS port');
      assert.equal(err.code, S.UNAVAILABLE, err.details);
      const again = await check(client(server, H.Health, grpc.credentials.createSsl(file('ca.pem'))));
      assert.ifError(again.err);
    } finally {
      await server.stop();
    }
  });

  it('mutual TLS: no client certificate refused, the CA-signed one served', async () => {
    const server = await startTls(['--tls-client-ca', path.join(work, 'ca.pem')]);
    try {
      const { err } = await check(client(server, H.Health,
        grpc.credentials.createSsl(file('ca.pem'))));
      assert.ok(err, 'served without a client certificate');
      assert.equal(err.code, S.UNAVAILABLE, err.details);
      assert.match(err.details, /certificate required/); // TLS 1.3 alert 116
      const ok = await check(client(server, H.Health, grpc.credentials.createSsl(
        file('ca.pem'), file('cli.key'), file('cli.pem'))));
      assert.ifError(ok.err);
      assert.equal(ok.resp.status, 'SERVING');
    } finally {
      await server.stop();
    }
  });
});
