// SPDX-License-Identifier: MIT
// Overload sheds instead of queueing (issue 15), seen through grpc-js: one
// Tesseract worker held busy by a 16-line page and --max-queued-jobs 2; a call
// whose deadline the queue ahead would miss is refused at once with
// UNAVAILABLE (not left to end in DEADLINE_EXCEEDED), a burst is answered
// OK or UNAVAILABLE "overloaded", every call, and the server serves again
// afterwards. Judged by counts and status codes, never by timing.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');

const H = require('../lib/harness');

const S = H.grpc.status;
const MAX_QUEUED = 2;
const BURST_CLIENTS = 4;
const CALLS_PER_CLIENT = 4; // 16 calls: at most MAX_QUEUED fit while the page runs
const SMALL_TEXT = 'Overload shed here';
const AFTER_TEXT = 'Served after the burst';
// The page that holds the worker: 16 lines, a second or two of Tesseract
// (the burst itself takes milliseconds), lean enough for the ASan tree.
const PAGE_LINES = H.BIG_LINES.slice(0, 16);

let server;

before(async () => {
  // The cache off: the second read of the page must really occupy the worker.
  server = await new H.Server(['--max-queued-jobs', String(MAX_QUEUED),
    '--shed-by-deadline', 'on', '--result-cache', 'off'], { workers: 1 }).start();
  H.renderLine(server.path('page.png'), PAGE_LINES[0], {
    width: 1700,
    height: 80 + 60 * PAGE_LINES.length,
    extra: PAGE_LINES.slice(1).flatMap((t, i) => ['-annotate', `+20+${140 + 60 * i}`, t]),
  });
  H.renderLine(server.path('small.png'), SMALL_TEXT);
  H.renderLine(server.path('after.png'), AFTER_TEXT);
});

after(async () => {
  if (server) await server.stop(); // asserts exit status 0, no sanitizer report
});

function req(name) {
  return { private_image_path: name, language: 'english' };
}

function explain(x) {
  return String(JSON.stringify(x)).slice(0, 2000);
}

function assertPage(resp) {
  assert.equal(resp.status, 'STATUS_SUCCESS', explain(resp));
  assert.deepEqual(H.normText(resp.text).split('\n'), PAGE_LINES);
}

function assertSmall(resp, text = SMALL_TEXT) {
  assert.equal(resp.status, 'STATUS_SUCCESS', explain(resp));
  assert.equal(H.normText(resp.text), text, explain(resp));
}

// Resolves once the server's own gauge says the single worker is running a
// recognition (the ceiling is a hang).
async function waitWorkerBusy() {
  const end = Date.now() + H.WAIT_TIMEOUT_MS;
  while (H.metricSum(await server.metrics(), 'ocr_workers_busy') < 1) {
    if (Date.now() > end) throw new Error('timed out waiting for the worker to be busy');
    await new Promise((r) => setTimeout(r, 20)); // polling interval, not a synchronisation
  }
}

describe('overload sheds (grpc-js)', () => {
  it('deadline shedding and a burst over --max-queued-jobs: OK or UNAVAILABLE, none lost', async () => {
    const client = server.ocrClient();
    // Warm the engine on the page: the server's mean run time (what
    // deadline shedding estimates the queue with) becomes one page.
    const warm = await H.unary(client, 'ExtractText', req('page.png'));
    assertPage(warm);
    const pageMs = Number(H.mdMap(warm).ocr_ms);
    assert.ok(pageMs > 0, `ocr_ms of the warm call: ${explain(H.mdMap(warm))}`);

    // The worker busy on the page (a second or more), then one small call queued
    // behind it: 1 of the MAX_QUEUED places taken.
    const pageId = H.newId();
    const page = H.startUnary(client, 'ExtractText', req('page.png'), { metadata: H.requestIdMd(pageId) });
    await server.waitInFlight([pageId]);
    await waitWorkerBusy();
    const queuedId = H.newId();
    const queued = H.startUnary(client, 'ExtractText', req('small.png'),
      { metadata: H.requestIdMd(queuedId) });
    await server.waitInFlight([queuedId]);

    // A deadline of a quarter of one page while a recognition of about
    // one page is queued ahead (plus the running one, not counted by
    // the server): refused on arrival, UNAVAILABLE, rather than queued to
    // expire with DEADLINE_EXCEEDED. The 4x margin is in the server's own
    // estimate; the client's timer is a quarter of a recognition (seconds),
    // far from the immediate answer.
    const { err: dErr } = await H.startUnary(client, 'ExtractText', req('small.png'),
      { timeoutMs: Math.max(pageMs / 4, 200) }).result;
    assert.ok(dErr, 'the call whose deadline the queue would miss was served');
    assert.equal(dErr.code, S.UNAVAILABLE, `${dErr.code}: ${dErr.details}`);
    assert.match(dErr.details, /^overloaded: the deadline leaves \d+ ms, the 1 recognitions queued ahead take about \d+ ms$/);

    // The burst, from several connections at once while the page still
    // runs: one place is left, so at least 16 - 1 - (calls the worker can
    // finish meanwhile: none, the page is ahead) are shed.
    const clients = Array.from({ length: BURST_CLIENTS }, () => server.ocrClient());
    const burst = clients.flatMap((c) => Array.from({ length: CALLS_PER_CLIENT }, () =>
      H.startUnary(c, 'ExtractText', req('small.png')).result));
    const results = await Promise.all(burst);
    let ok = 0;
    let shed = 0;
    for (const { err, resp } of results) {
      if (!err) {
        assertSmall(resp);
        ok += 1;
        continue;
      }
      assert.equal(err.code, S.UNAVAILABLE, `status ${err.code}: ${err.details}`);
      assert.match(err.details,
        new RegExp(`^overloaded: \\d+ recognitions queued \\(--max-queued-jobs ${MAX_QUEUED}\\)$`));
      shed += 1;
    }
    process.stderr.write(`  burst of ${burst.length}: ${ok} OK, ${shed} UNAVAILABLE\n`);
    assert.equal(ok + shed, burst.length);
    assert.ok(shed >= 1, 'nothing was shed');
    assert.ok(ok >= 1, 'no burst call was served (one queue place was free)');

    // The calls admitted before the burst were served in full.
    const b = await page.result;
    assert.ifError(b.err);
    assertPage(b.resp);
    const q = await queued.result;
    assert.ifError(q.err);
    assertSmall(q.resp);

    // Shedding is not a lasting state: an ordinary call is served.
    assertSmall(await H.unary(server.ocrClient(), 'ExtractText', req('after.png')), AFTER_TEXT);
  });
});
