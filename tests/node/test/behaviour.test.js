// SPDX-License-Identifier: MIT
// gRPC behaviour of ocrpc-server through grpc-js: deadlines and
// cancellation free the workers, status codes, gzip both ways and zip
// bombs, x-request-id, server streaming with GetBatchStatus, and
// grpc.health.v1. "The workers were freed" is judged by the server's own
// counts (GET /metrics): once no recognition is running or queued, no
// abandoned big page was recognised to the end (ocr_images_total with
// result="success" did not grow), and the normal calls after it are the only
// successes counted. No duration is compared.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { describe, it, before, after } = require('node:test');

const H = require('../lib/harness');

const { grpc } = H;
const S = grpc.status;
const WORKERS = 2;
const BURST = 10;
const SMALL_LIMIT = 100000;
const EXTRACT = '/ocr.OCRService/ExtractText';
const SMALL = [['s0.png', 'Alpha report 101'], ['s1.png', 'Bravo invoice 202'],
  ['s2.png', 'Charlie order 303'], ['s3.png', 'Delta receipt 404']];
const BATCH = Array.from({ length: 8 }, (_, i) => [`b${i}.png`, `Batch page ${i + 1} of eight`]);

let work;
let server; // default limits
let smallServer; // --max-message-bytes SMALL_LIMIT
let client;

function populate(srv) {
  for (const name of fs.readdirSync(work)) fs.copyFileSync(path.join(work, name), srv.path(name));
}

before(async () => {
  work = H.tempDir('ocrpc-node-beh-');
  H.renderBig(path.join(work, 'big.png'));
  for (const [name, text] of [...SMALL, ...BATCH]) H.renderLine(path.join(work, name), text);
  server = await new H.Server([], { workers: WORKERS }).start();
  populate(server);
  smallServer = await new H.Server(['--max-message-bytes', String(SMALL_LIMIT)],
    { workers: WORKERS }).start();
  populate(smallServer);
  client = server.ocrClient();
});

after(async () => {
  const errors = [];
  for (const s of [server, smallServer]) {
    if (!s) continue;
    try {
      await s.stop(); // asserts exit status 0 at SIGTERM
    } catch (e) {
      errors.push(e);
      s.kill();
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
  if (errors.length) throw errors[0];
});

function req(name) {
  return { private_image_path: name, language: 'english' };
}

function explain(resp) {
  return String(JSON.stringify(resp)).slice(0, 2000);
}

function successes(m) {
  return H.metricSum(m, 'ocr_images_total', { result: 'success' });
}

function byResult(m) {
  return JSON.stringify([...m].filter(([k]) => k.startsWith('ocr_images_total{')));
}

// One full recognition of the big page; returns the server's count of
// successful images just after it (the baseline of assertWorkersFree).
async function measureBig(c = client) {
  const resp = await H.unary(c, 'ExtractText', req('big.png'));
  assert.equal(resp.status, 'STATUS_SUCCESS', explain(resp));
  assert.deepEqual(H.normText(resp.text).split('\n'), H.BIG_LINES);
  return successes(await server.pollIdle('the big page to leave the workers'));
}

// The abandoned big-page calls were stopped, not finished: once the server
// has no recognition running or queued (its own gauges, waited for; the
// ceiling is a hang), its count of successful images has not grown. Then
// four normal calls on small images succeed, and the count grows by exactly
// those four: had the server kept working for the abandoned calls (ahead of
// these in its FIFO queue), they would be counted too. Counts only, so a
// loaded machine cannot change the verdict.
async function assertWorkersFree(before, what) {
  let m = await server.pollIdle(`the abandoned calls to leave the workers (${what})`);
  assert.equal(successes(m) - before, 0,
    `${what}: the server recognised abandoned big-page calls to the end: ${byResult(m)}`);
  const resps = await Promise.all(SMALL.map(([name]) => H.unary(client, 'ExtractText', req(name))));
  resps.forEach((resp, i) => {
    assert.equal(resp.status, 'STATUS_SUCCESS', explain(resp));
    assert.equal(H.normText(resp.text), SMALL[i][1], explain(resp));
  });
  m = await server.pollIdle(`the normal calls to leave the workers (${what})`);
  assert.equal(successes(m) - before, SMALL.length,
    `${what}: successes counted besides the ${SMALL.length} normal calls: ${byResult(m)}`);
  process.stderr.write(`  ${what}: ocr_images_total ${byResult(m)}\n`);
}

async function startBigCalls(c, n) {
  const ids = Array.from({ length: n }, () => H.newId());
  const calls = ids.map((id) => H.startUnary(c, 'ExtractText', req('big.png'),
    { metadata: H.requestIdMd(id) }));
  await server.waitInFlight(ids);
  return calls;
}

describe('deadlines', () => {
  it('1 ms deadline, then a burst of 50 ms deadlines, leave the workers free', async () => {
    const before = await measureBig();
    await assert.rejects(H.unary(client, 'ExtractText', req('big.png'), { timeoutMs: 1 }),
      (e) => e.code === S.DEADLINE_EXCEEDED);
    const burst = Array.from({ length: BURST }, () =>
      H.startUnary(client, 'ExtractText', req('big.png'), { timeoutMs: 50 }).result);
    for (const { err, resp } of await Promise.all(burst)) {
      assert.ok(err, `a 50 ms call on the big page succeeded: ${explain(resp)}`);
      assert.equal(err.code, S.DEADLINE_EXCEEDED, err.details);
    }
    await assertWorkersFree(before, `after ${BURST} expired deadlines`);
  });
});

describe('cancellation', () => {
  it('call.cancel() on in-flight calls frees the workers', async () => {
    const before = await measureBig();
    const calls = await startBigCalls(client, 2 * WORKERS); // 2 running, 2 queued
    for (const { call } of calls) call.cancel();
    for (const { result } of calls) {
      const { err } = await result;
      assert.ok(err);
      assert.equal(err.code, S.CANCELLED, err.details);
    }
    assert.ok(server.alive());
    await assertWorkersFree(before, 'after cancelling 4 calls');
  });

  it('a client process killed mid-call frees the workers', async () => {
    const before = await measureBig();
    const ids = Array.from({ length: 2 * WORKERS }, () => H.newId());
    const script = `
      const H = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'harness.js'))});
      const c = new H.OCRService(process.argv[1], H.grpc.credentials.createInsecure(), H.CHANNEL_OPTIONS);
      Promise.all(process.argv.slice(2).map((id) => H.unary(c, 'ExtractText',
        { private_image_path: 'big.png', language: 'english' }, { metadata: H.requestIdMd(id) })))
        .then(() => console.log('finished: not killed in time'));`;
    const child = spawn(process.execPath, ['-e', script, server.address, ...ids],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const exited = once(child, 'exit');
    try {
      await server.waitInFlight(ids);
    } finally {
      child.kill('SIGKILL'); // the socket just goes away
    }
    await exited;
    assert.ok(!out.includes('finished'), out);
    assert.ok(server.alive());
    await assertWorkersFree(before, 'after a client process died mid-call');
  });
});

describe('status codes', () => {
  it('unknown service and unknown method: UNIMPLEMENTED', async () => {
    for (const p of ['/nope.NoService/ExtractText', '/ocr.OCRService/NoSuchMethod']) {
      await assert.rejects(H.rawUnary(client, p, Buffer.alloc(0)),
        (e) => e.code === S.UNIMPLEMENTED, p);
    }
  });

  it('request bytes that do not parse: INTERNAL or INVALID_ARGUMENT', async () => {
    await assert.rejects(H.rawUnary(client, EXTRACT, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x07])),
      (e) => [S.INTERNAL, S.INVALID_ARGUMENT].includes(e.code));
  });

  it('a message over --max-message-bytes: RESOURCE_EXHAUSTED', async () => {
    const c = smallServer.ocrClient();
    await assert.rejects(
      H.unary(c, 'ExtractText', { image_data: require('node:crypto').randomBytes(SMALL_LIMIT + 1000) }),
      (e) => e.code === S.RESOURCE_EXHAUSTED);
    const resp = await H.unary(c, 'ExtractText', req(SMALL[0][0]));
    assert.equal(H.normText(resp.text), SMALL[0][1]);
  });
});

describe('compression', () => {
  const GZIP = { 'grpc.default_compression_algorithm': 2 };

  it('gzip-compressed request with a large inline image', async () => {
    const text = 'Compressed upload works';
    const tif = H.renderLine(path.join(H.tempDir('ocrpc-node-gz-'), 'gz.tif'), text,
      { width: 1600, height: 1200, extra: ['-type', 'TrueColor', '-compress', 'none'] });
    const data = fs.readFileSync(tif);
    fs.rmSync(path.dirname(tif), { recursive: true, force: true });
    assert.ok(data.length > 4 * H.MB);
    const c = server.ocrClient(GZIP);
    const resp = await H.unary(c, 'ExtractText', { image_data: data, language: 'english' });
    assert.equal(resp.status, 'STATUS_SUCCESS', explain(resp));
    assert.equal(H.normText(resp.text), text);
    assert.equal(H.mdMap(resp).image_width, '1600');
  });

  it('a gzip bomb (small on the wire, over the limit inflated): RESOURCE_EXHAUSTED', async () => {
    // 1 MB of zeros compresses to ~1 KB: under the limit as sent.
    assert.ok(zlib.gzipSync(Buffer.alloc(H.MB)).length < SMALL_LIMIT);
    const c = smallServer.ocrClient(GZIP);
    await assert.rejects(H.unary(c, 'ExtractText', { image_data: Buffer.alloc(H.MB) }),
      (e) => {
        assert.equal(e.code, S.RESOURCE_EXHAUSTED, e.details);
        // The server inflated it (grpc-js really compressed) and stopped.
        assert.match(e.details, /decompress/);
        return true;
      });
  });
});

describe('metadata', () => {
  it('x-request-id is echoed in the response headers', async () => {
    const id = H.newId();
    const md = await new Promise((resolve, reject) => {
      let initial;
      const call = client.ExtractText(req(SMALL[1][0]), H.requestIdMd(id),
        { deadline: H.deadline(H.CALL_TIMEOUT_MS) }, (err, resp) => {
          if (err) return reject(err);
          assert.equal(H.normText(resp.text), SMALL[1][1]);
          resolve(initial);
        });
      call.on('metadata', (m) => { initial = m; });
    });
    assert.ok(md, 'no response headers');
    assert.deepEqual(md.get('x-request-id'), [id]);
  });
});

describe('binary metadata', () => {
  it('-bin values from grpc-js (base64 on the wire) are accepted', async () => {
    for (const bytes of [[0, 1, 2, 3], [0xff], [0, 1]]) {
      const md = new grpc.Metadata();
      md.set('x-trace-bin', Buffer.from(bytes));
      const r = await H.unary(client, 'CheckHealth', {}, { metadata: md });
      assert.equal(r.status, 'STATUS_SUCCESS');
    }
  });
});

describe('server streaming', () => {
  it('ExtractTextBatch of 8 images, then GetBatchStatus', async () => {
    const msgs = [];
    await new Promise((resolve, reject) => {
      const call = client.ExtractTextBatch({
        image_paths: BATCH.map(([n]) => ({ private_path: n })), language: 'english',
      }, { deadline: H.deadline(H.CALL_TIMEOUT_MS) });
      call.on('data', (m) => msgs.push(m));
      call.on('error', reject);
      call.on('end', resolve);
    });
    assert.equal(msgs.length, 8);
    assert.deepEqual(msgs.map((m) => m.processed_images), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(msgs.map((m) => m.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
    const batchId = msgs[0].batch_id;
    assert.ok(batchId);
    for (const m of msgs) {
      assert.equal(m.batch_id, batchId);
      assert.equal(m.total_images, 8);
      assert.equal(m.current_result.status, 'STATUS_SUCCESS', explain(m));
      assert.equal(H.normText(m.current_result.text), BATCH[m.index][1], explain(m));
    }
    assert.ok(Math.abs(msgs[7].progress_percentage - 100) < 1e-3, explain(msgs[7]));
    const st = await H.unary(client, 'GetBatchStatus', { batch_id: batchId });
    assert.equal(st.status, 'STATUS_SUCCESS', explain(st));
    assert.equal(st.batch_id, batchId);
    assert.equal(st.total_images, 8);
    assert.equal(st.processed_images, 8);
    assert.equal(st.failed_images, 0);
  });
});

describe('health', () => {
  it('Check: "" and ocr.OCRService SERVING, unknown NOT_FOUND', async () => {
    const h = server.healthClient();
    for (const service of ['', 'ocr.OCRService']) {
      const r = await H.unary(h, 'Check', { service });
      assert.equal(r.status, 'SERVING', service);
    }
    await assert.rejects(H.unary(h, 'Check', { service: 'no.Such' }),
      (e) => e.code === S.NOT_FOUND);
  });

  it('Watch sends SERVING at once', async () => {
    const h = server.healthClient();
    const call = h.Watch({ service: '' });
    call.on('error', () => {}); // CANCELLED after our cancel()
    const [first] = await once(call, 'data');
    assert.equal(first.status, 'SERVING');
    call.cancel();
  });
});
