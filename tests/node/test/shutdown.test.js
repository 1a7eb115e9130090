// SPDX-License-Identifier: MIT
// Graceful shutdown through grpc-js: on SIGTERM the in-flight call
// finishes with its full text, Watch sees NOT_SERVING, new calls fail with
// UNAVAILABLE, and the server exits 0; a second SIGTERM stops at once.
'use strict';

const assert = require('node:assert/strict');
const { once } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const H = require('../lib/harness');

const { grpc } = H;
const S = grpc.status;
const SMALL = ['s0.png', 'Alpha report 101'];

let work;
const started = [];

before(() => {
  work = H.tempDir('ocrpc-node-shut-');
  H.renderBig(path.join(work, 'big.png'));
  H.renderLine(path.join(work, SMALL[0]), SMALL[1]);
});

after(() => {
  for (const s of started) s.kill();
  fs.rmSync(work, { recursive: true, force: true });
});

async function startServer() {
  // A drain window only a hang outlasts (the default 30 s can pass under load).
  const srv = await new H.Server(['--drain-seconds', '600'], { workers: 2 }).start();
  started.push(srv);
  for (const name of fs.readdirSync(work)) fs.copyFileSync(path.join(work, name), srv.path(name));
  return srv;
}

function req(name) {
  return { private_image_path: name, language: 'english' };
}

// The next 'data' of a stream, or its error.
function nextMessage(call) {
  return new Promise((resolve, reject) => {
    const onData = (m) => { call.off('error', onErr); resolve(m); };
    const onErr = (e) => { call.off('data', onData); reject(e); };
    call.once('data', onData);
    call.once('error', onErr);
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM drains: in-flight call completes, Watch NOT_SERVING, new calls UNAVAILABLE, exit 0', async () => {
    const srv = await startServer();
    const client = srv.ocrClient();
    const health = srv.healthClient();
    const watch = health.Watch({ service: '' });
    watch.on('error', () => {});
    assert.equal((await nextMessage(watch)).status, 'SERVING');

    const id = H.newId();
    const big = H.startUnary(client, 'ExtractText', req('big.png'), { metadata: H.requestIdMd(id) });
    await srv.waitInFlight([id]);
    srv.proc.kill('SIGTERM');
    // The drain has started once Watch reports NOT_SERVING.
    assert.equal((await nextMessage(watch)).status, 'NOT_SERVING');

    const seen = [];
    for (const [label, c] of [['existing client', client], ['new client', srv.ocrClient()]]) {
      const { err, resp } = await H.startUnary(c, 'ExtractText', req(SMALL[0])).result;
      assert.ok(err, `${label}: a new call during the drain succeeded: ${JSON.stringify(resp)}`);
      assert.equal(err.code, S.UNAVAILABLE, `${label}: ${err.details}`);
      seen.push(`${label}: ${err.details}`);
    }
    process.stderr.write(`  new calls during drain -> UNAVAILABLE: ${seen.join(' | ')}\n`);

    const { err, resp } = await big.result;
    assert.ifError(err);
    assert.equal(resp.status, 'STATUS_SUCCESS');
    assert.deepEqual(H.normText(resp.text).split('\n'), H.BIG_LINES);
    watch.cancel();
    const e = await srv.waitExit();
    assert.deepEqual(e, { code: 0, signal: null }, srv.stderr().slice(-4000));
  });

  it('a second SIGTERM during the drain stops at once, exit 0', async () => {
    const srv = await startServer();
    const client = srv.ocrClient();
    const id = H.newId();
    const big = H.startUnary(client, 'ExtractText', req('big.png'), { metadata: H.requestIdMd(id) });
    await srv.waitInFlight([id]);
    srv.proc.kill('SIGTERM');
    await srv.waitLog(/signal 15: draining/);
    srv.proc.kill('SIGTERM');
    const e = await srv.waitExit();
    assert.deepEqual(e, { code: 0, signal: null }, srv.stderr().slice(-4000));
    const { err, resp } = await big.result;
    assert.ok(err, `the in-flight call completed (${String(JSON.stringify(resp)).slice(0, 200)}): ` +
      'the second SIGTERM did not stop the server at once');
    assert.ok([S.UNAVAILABLE, S.CANCELLED, S.INTERNAL].includes(err.code), err.details);
  });
});
