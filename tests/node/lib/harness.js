// SPDX-License-Identifier: MIT
// Shared pieces of the grpc-js behaviour tests: the protos loaded with
// proto-loader, an ocrpc-server child process on a free port (the port is
// parsed from its 'listening on 127.0.0.1:PORT' log line), waiting on its
// log and exit as events, and images drawn with the real ImageMagick.
'use strict';

const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const { EventEmitter, once } = require('node:events');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO = process.env.OCRPC_REPO || path.resolve(__dirname, '..', '..', '..');
const PROTOS = path.join(REPO, 'protos');
const CONVERT = '/usr/bin/convert'; // never the stand-in earlier on PATH
const DEJAVU = 'DejaVu-Sans';
const MB = 1024 * 1024;
const LISTEN_RE = /listening on (\S+):(\d+)/;
const SANITIZER_MARKERS = ['AddressSanitizer', 'runtime error:', 'LeakSanitizer'];
const STARTUP_TIMEOUT_MS = 120000; // a hang ceiling (ASan tree on a loaded machine)
const STOP_TIMEOUT_MS = 120000; // above the default 30 s drain window: only a hang reaches it
const WAIT_TIMEOUT_MS = 120000; // a ceiling only a hang reaches (loaded machine, ASan)
const CALL_TIMEOUT_MS = 300000; // a ceiling only a hang reaches (loaded machine)

const CHANNEL_OPTIONS = {
  'grpc.max_send_message_length': 100 * MB,
  'grpc.max_receive_message_length': 100 * MB,
  'grpc.enable_http_proxy': 0,
  // Each client its own connection: a test that drops or drains one
  // connection must not disturb the others.
  'grpc.use_local_subchannel_pool': 1,
};

const packageDefinition = protoLoader.loadSync(['ocr.proto', 'health.proto'], {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTOS],
});
const loaded = grpc.loadPackageDefinition(packageDefinition);
const OCRService = loaded.ocr.OCRService;
const Health = loaded.grpc.health.v1.Health;

function serverBinary() {
  const p = process.env.OCRPC_SERVER;
  if (!p) throw new Error('OCRPC_SERVER is not set (CTest sets it to the ocrpc-server binary)');
  fs.accessSync(p, fs.constants.X_OK);
  return p;
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// One ocrpc-server process on 127.0.0.1 and a free port.
class Server extends EventEmitter {
  constructor(extraArgs = [], { workers = 2 } = {}) {
    super();
    this.extraArgs = extraArgs;
    this.workers = workers;
    this.lines = [];
    this.exit = null; // {code, signal} once exited
    this.clients = [];
  }

  async start() {
    this.root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ocrpc-node-root-')));
    this.argv = ['--host', '127.0.0.1', '--port', '0', '--http-port', 'off', '--image-root', this.root,
      '--workers', String(this.workers), '--engine', 'tesseract', '--log-level', 'info',
      // These tests queue bursts and expect DEADLINE_EXCEEDED on purpose:
      // shedding (UNAVAILABLE) is tested in tests/integration/test_overload.py.
      '--max-queued-jobs', '1000000', '--shed-by-deadline', 'off',
      ...this.extraArgs];
    this.proc = spawn(serverBinary(), this.argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const rl = readline.createInterface({ input: this.proc.stderr });
    rl.on('line', (line) => {
      this.lines.push(line);
      this.emit('line', line);
    });
    const listening = new Promise((resolve, reject) => {
      const onLine = (line) => {
        const m = LISTEN_RE.exec(line);
        if (m) {
          this.off('line', onLine);
          this.port = Number(m[2]);
          resolve();
        }
      };
      this.on('line', onLine);
      this.exited.then((e) => reject(new Error(
        `server exited (${JSON.stringify(e)}) before listening:\n${this.stderr()}`)));
    });
    await withTimeout(listening, STARTUP_TIMEOUT_MS, 'server listening');
    return this;
  }

  get address() {
    return `127.0.0.1:${this.port}`;
  }

  stderr() {
    return this.lines.join('\n');
  }

  alive() {
    return this.exit === null;
  }

  path(...parts) {
    return path.join(this.root, ...parts);
  }

  // Resolves once a log line matches `re` (lines already seen count).
  waitLog(re, timeoutMs = WAIT_TIMEOUT_MS) {
    if (this.lines.some((l) => re.test(l))) return Promise.resolve();
    let onLine;
    const p = new Promise((resolve, reject) => {
      onLine = (line) => {
        if (re.test(line)) resolve();
      };
      this.on('line', onLine);
      this.exited.then(() => reject(new Error(`server exited before logging ${re}`)));
    });
    return withTimeout(p, timeoutMs, `server log ${re}\n${this.stderr().slice(-4000)}`)
      .finally(() => this.off('line', onLine));
  }

  // The server logs 'request ID: PATH' when a call with an x-request-id
  // arrives.
  async waitInFlight(ids, method = '/ocr.OCRService/ExtractText') {
    for (const id of ids) await this.waitLog(new RegExp(`request ${id}: ${method.replace(/\./g, '\\.')}`));
  }

  // The server's own counters and gauges now: GET /metrics on the gRPC
  // port (which answers HTTP/1.1 too), parsed by parseMetrics.
  metrics(timeoutMs = WAIT_TIMEOUT_MS) {
    const p = new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: this.port, path: '/metrics', agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => { body += d; });
          res.on('end', () => (res.statusCode === 200 ? resolve(parseMetrics(body))
            : reject(new Error(`GET /metrics: ${res.statusCode}\n${body}`))));
          res.on('error', reject);
        });
      req.on('error', reject);
    });
    return withTimeout(p, timeoutMs, 'GET /metrics');
  }

  // Resolves once no recognition is running or queued (the server's
  // ocr_workers_busy and ocr_queue_depth gauges); the ceiling is a hang.
  async pollIdle(what, timeoutMs = WAIT_TIMEOUT_MS) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.metrics();
      if (metricSum(m, 'ocr_workers_busy') === 0 && metricSum(m, 'ocr_queue_depth') === 0) return m;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20)); // polling interval, not a synchronisation
    }
  }

  ocrClient(options = {}) {
    const c = new OCRService(this.address, grpc.credentials.createInsecure(),
      { ...CHANNEL_OPTIONS, ...options });
    this.clients.push(c);
    return c;
  }

  healthClient() {
    const c = new Health(this.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.clients.push(c);
    return c;
  }

  closeClients() {
    for (const c of this.clients) c.close();
    this.clients = [];
  }

  // Waits for the process to exit by itself; returns {code, signal} and
  // checks that no sanitizer report was printed.
  async waitExit(timeoutMs = STOP_TIMEOUT_MS) {
    let e;
    try {
      e = await withTimeout(this.exited, timeoutMs, 'server exit');
    } catch (err) {
      this.proc.kill('SIGKILL');
      throw err;
    }
    this.closeClients();
    await new Promise((r) => setImmediate(r));
    for (const m of SANITIZER_MARKERS) {
      assert.ok(!this.stderr().includes(m), `stderr contains ${m}:\n${this.stderr()}`);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
    return e;
  }

  // SIGTERM; asserts exit status 0.
  async stop() {
    if (!this.proc) return;
    this.closeClients();
    assert.equal(this.exit, null, `server had exited before SIGTERM: ${JSON.stringify(this.exit)}`);
    this.proc.kill('SIGTERM');
    const e = await this.waitExit();
    assert.deepEqual(e, { code: 0, signal: null },
      `server exit after SIGTERM\n${this.stderr().slice(-4000)}`);
  }

  kill() {
    if (this.proc && this.exit === null) this.proc.kill('SIGKILL');
  }
}

// Prometheus text exposition -> Map 'name{labels}' -> value (comments skipped).
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

// Sum of the samples of family `name` whose labels include every given
// label=value (the whole family when none is given).
function metricSum(samples, name, labels = {}) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const base = brace < 0 ? key : key.slice(0, brace);
    const rest = brace < 0 ? '' : key.slice(brace);
    if (base === name && want.every((w) => rest.includes(w))) total += value;
  }
  return total;
}

// ---------------------------------------------------------------------------
// Images

function convert(args, out) {
  const fmt = /\.tiff?$/i.test(out) ? ['-depth', '8'] : [];
  const r = spawnSync(CONVERT, [...args, ...fmt, out], { encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(out)) {
    throw new Error(`convert failed (${r.status}): ${args.join(' ')}\n${r.stderr}`);
  }
  return out;
}

function renderLine(out, text, { width = 900, height = 120, extra = [] } = {}) {
  return convert(['-size', `${width}x${height}`, 'xc:white', '-font', DEJAVU,
    '-pointsize', '40', '-fill', 'black', '-annotate', '+20+80', text, ...extra], out);
}

const WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliet ' +
  'kilo lima mike november oscar papa quebec romeo sierra tango').split(' ');

// The big page: 2400x3200, 60 lines; recognising it takes seconds.
const BIG_LINES = Array.from({ length: 60 }, (_, i) =>
  `Line ${String(i).padStart(2, '0')} ` +
  Array.from({ length: 9 }, (_, k) => WORDS[(i + k) % WORDS.length]).join(' '));

function renderBig(out) {
  const args = ['-size', '2400x3200', 'xc:white', '-font', DEJAVU, '-pointsize', '34',
    '-fill', 'black'];
  BIG_LINES.forEach((t, i) => args.push('-annotate', `+40+${60 + 52 * i}`, t));
  return convert(args, out);
}

function normText(s) {
  return s.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).join(' ')).join('\n');
}

// ---------------------------------------------------------------------------
// Calls as promises

function deadline(ms) {
  return new Date(Date.now() + ms);
}

function unary(client, method, req, { metadata = new grpc.Metadata(), timeoutMs = CALL_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const call = client[method](req, metadata, { deadline: deadline(timeoutMs) }, (err, resp) => {
      if (err) reject(err);
      else resolve(resp);
    });
    call.on('metadata', (md) => {
      call.initialMetadata = md;
    });
  });
}

// A unary call that can be cancelled: {call, result} where result settles
// to {err, resp}.
function startUnary(client, method, req, { metadata = new grpc.Metadata(), timeoutMs = CALL_TIMEOUT_MS } = {}) {
  let call;
  const result = new Promise((resolve) => {
    call = client[method](req, metadata, { deadline: deadline(timeoutMs) },
      (err, resp) => resolve({ err, resp }));
  });
  return { call, result };
}

function rawUnary(client, pathName, bytes, timeoutMs = CALL_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(pathName, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: deadline(timeoutMs) }, (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

function mdMap(resp) {
  return resp.metadata ? resp.metadata.data : {};
}

function requestIdMd(id) {
  const md = new grpc.Metadata();
  md.set('x-request-id', id);
  return md;
}

let idCounter = 0;
function newId() {
  idCounter += 1;
  return `node-${process.pid}-${idCounter}-${Math.random().toString(16).slice(2, 8)}`;
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

module.exports = {
  grpc, Server, OCRService, Health, CHANNEL_OPTIONS, MB, CALL_TIMEOUT_MS, WAIT_TIMEOUT_MS,
  renderLine, renderBig, BIG_LINES, normText, unary, startUnary, rawUnary, mdMap,
  requestIdMd, newId, tempDir, deadline, withTimeout, parseMetrics, metricSum,
};
