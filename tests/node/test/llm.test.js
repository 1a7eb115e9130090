// SPDX-License-Identifier: MIT
// llm.LLMService through grpc-js, against the OpenAI-compatible test
// backend (tests/integration/llm_backend.py, run as a child process and
// driven over its /_test/ routes): entities parsed, tokens in order with
// the first one before the backend finished, cancel closing the backend
// connection, deadline, and the error rows. Waits are for events the
// backend reports, with a ceiling only a hang reaches.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { describe, it, before, after, beforeEach } = require('node:test');
const protoLoader = require('@grpc/proto-loader');

const H = require('../lib/harness');

const { grpc } = H;
const S = grpc.status;
const REPO = process.env.OCRPC_REPO || path.resolve(__dirname, '..', '..', '..');
const llm = grpc.loadPackageDefinition(protoLoader.loadSync(['llm.proto'], {
  keepCase: true, longs: String, enums: String, defaults: true,
  includeDirs: [path.join(REPO, 'protos')],
})).llm;

let backend;
let backendPort;
let server;
let client;

function control(method, route) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: backendPort, method, path: route,
      headers: { 'content-length': 0 } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function analyze(req, timeoutMs = H.CALL_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    client.AnalyzeText(req, { deadline: H.deadline(timeoutMs) }, (err, resp) => {
      if (err) reject(err); else resolve(resp);
    });
  });
}

function opts(o) { return { data: o }; }

// Reads a server stream: resolves with {tokens, err} at its end.
function collect(call, tokens = []) {
  return new Promise((resolve) => {
    call.on('data', (m) => tokens.push(m));
    call.on('error', (err) => resolve({ tokens, err }));
    call.on('end', () => resolve({ tokens, err: null }));
  });
}

before(async () => {
  backend = spawn('/usr/bin/python3', [path.join(REPO, 'tests', 'integration', 'llm_backend.py')],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: backend.stdout });
  backendPort = await H.withTimeout(new Promise((resolve) => {
    rl.on('line', (line) => {
      const m = /^port (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  }), H.WAIT_TIMEOUT_MS, 'the test backend to start');
  server = await new H.Server(['--engine', 'mock', '--llm-base-url',
    `http://127.0.0.1:${backendPort}/v1`, '--llm-model', 'json']).start();
  client = new llm.LLMService(server.address, grpc.credentials.createInsecure(),
    H.CHANNEL_OPTIONS);
});

after(async () => {
  if (client) client.close();
  if (server) await server.stop();
  if (backend) {
    backend.stdin.end();
    await new Promise((resolve) => backend.on('exit', resolve));
  }
});

beforeEach(async () => {
  await control('POST', '/_test/reset');
});

describe('llm.LLMService through grpc-js', () => {
  it('AnalyzeText parses the JSON answer into entities, masked', async () => {
    const r = await analyze({ text: 'receipt 2024-03-05', prompt: 'what is it?',
      options: opts({ temperature: '0.3' }) });
    assert.equal(r.status, 'STATUS_SUCCESS');
    assert.equal(r.entities.date, '2024-03-05');
    assert.equal(r.entities.amount_total, '12000 KRW');
    assert.equal(r.entities.card_number, '**** **** **** 1111');
    assert.equal(r.metadata.data.prompt_tokens, '42');
    assert.equal(r.metadata.data.engine, 'openai');
  });

  it('AnalyzeTextStream sends tokens in order, the first before the backend finished', async () => {
    const call = client.AnalyzeTextStream({ text: 'hi', options: opts({ model: 'gated' }) },
      { deadline: H.deadline(H.CALL_TIMEOUT_MS) });
    const tokens = [];
    const first = new Promise((resolve) => call.once('data', resolve));
    const done = collect(call, tokens);
    const m = await H.withTimeout(first, H.WAIT_TIMEOUT_MS, 'the first token');
    // The backend's gate is still closed: it has not sent the rest.
    assert.equal(m.token, 'Hello');
    await control('POST', '/_test/release');
    const { err } = await done;
    assert.equal(err, null);
    assert.equal(tokens.map((t) => t.token).join(''), 'Hello world, this is ocrpc.');
    assert.equal(tokens.at(-1).is_complete, true);
  });

  it('cancel mid-stream closes the backend connection', async () => {
    const call = client.AnalyzeTextStream({ text: 'hi', options: opts({ model: 'gated' }) },
      { deadline: H.deadline(H.CALL_TIMEOUT_MS) });
    const first = new Promise((resolve) => call.once('data', resolve));
    const done = collect(call);
    assert.equal((await H.withTimeout(first, H.WAIT_TIMEOUT_MS, 'first token')).token, 'Hello');
    call.cancel();
    assert.equal((await done).err.code, S.CANCELLED);
    const w = await control('GET', '/_test/wait?disconnected=gated');
    assert.equal(w.status, 200, 'the backend never saw its client go away');
  });

  it('a backend slower than the deadline: DEADLINE_EXCEEDED', async () => {
    await assert.rejects(analyze({ text: 'hi', options: opts({ model: 'stall' }) }, 1000),
      (e) => e.code === S.DEADLINE_EXCEEDED);
    assert.equal((await control('GET', '/_test/wait?disconnected=stall')).status, 200);
  });

  it('error rows: 4xx in band, 5xx and broken answers UNAVAILABLE', async () => {
    let r = await analyze({ text: 'hi', options: opts({ model: 'http400' }) });
    assert.equal(r.status, 'STATUS_FAILURE');
    assert.equal(r.error.code, 'LLM_ERROR');
    assert.equal(r.error.details, 'BACKEND_REJECTED');
    r = await analyze({ text: 'hi', options: opts({ model: 'context' }) });
    assert.equal(r.error.details, 'CONTEXT_TOO_LONG');
    r = await analyze({ text: '' });
    assert.equal(r.error.details, 'INVALID_ARGUMENT');
    for (const model of ['http500', 'badjson']) {
      await assert.rejects(analyze({ text: 'hi', options: opts({ model }) }),
        (e) => e.code === S.UNAVAILABLE, model);
    }
    const call = client.AnalyzeTextStream({ text: 'hi', options: opts({ model: 'disconnect' }) },
      { deadline: H.deadline(H.CALL_TIMEOUT_MS) });
    const { tokens, err } = await collect(call);
    // Both tokens, in order, before the status: one message or two
    // (tokens arriving together may share one, LLM_STREAM_COALESCE_US).
    assert.equal(tokens.map((t) => t.token).join(''), 'partial answer');
    assert.ok(tokens.every((t) => !t.is_complete));
    assert.equal(err.code, S.UNAVAILABLE);
  });
});
