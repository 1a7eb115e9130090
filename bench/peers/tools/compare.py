#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs every benchmark scenario against ocrpc and its peers in interleaved
rounds and writes the Markdown report. Called by bench/compare.sh, which
builds everything first; see that script for the options.

Every measurement is one JSON line in --raw; the report shows the median
over rounds of each (scenario, case, server), with ratios to ocrpc.
"""
import argparse
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time

import report_merge

TICK = os.sysconf("SC_CLK_TCK")
PY = "/usr/bin/python3"


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--build", required=True, help="tree with ocrpc-server and bench/ocrpc-bench")
    ap.add_argument("--peers", required=True, help="build-peers tree")
    ap.add_argument("--images", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma list of scenarios: 1..6 or names")
    ap.add_argument("--port-base", type=int, default=23400,
                    help="below the ephemeral range, which scenario 5 fills")
    ap.add_argument("--out", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--report-only", nargs="+", metavar="RAW",
                    help="rewrite --out from these raw files, measuring nothing")
    a = ap.parse_args()
    if a.quick:
        a.rounds = 1
        a.duration = 2.0
        a.idle = min(a.idle, 2000)
    return a


A = parse_args()
REPO = A.repo
SERVER_BIN = os.path.join(A.build, "ocrpc-server")
BENCH_BIN = os.path.join(A.build, "bench", "ocrpc-bench")
CPP_BIN = os.path.join(A.peers, "cpp", "ocrpc-peer-cpp")
TESS_LIMIT = os.path.join(A.peers, "tess-limit", "tess-limit")
PY_SERVER = os.path.join(REPO, "bench", "peers", "py-aio", "server.py")
TOOLS = os.path.join(REPO, "bench", "peers", "tools")
NGHTTPD = "/usr/sbin/nghttpd"
H2LOAD = "/usr/bin/h2load"
LOGDIR = os.path.join(A.peers, "logs")
os.makedirs(LOGDIR, exist_ok=True)

SCEN_NAMES = {"1": "mock", "2": "open", "3": "tess", "4": "batch", "5": "idle", "6": "upload"}
if A.only:
    wanted = set()
    for s in A.only.split(","):
        s = s.strip()
        wanted.add(s if s in SCEN_NAMES else {v: k for k, v in SCEN_NAMES.items()}.get(s, s))
    bad = wanted - set(SCEN_NAMES)
    if bad:
        sys.exit(f"compare: unknown scenario(s) {sorted(bad)}; use 1-6 or {list(SCEN_NAMES.values())}")
else:
    wanted = set(SCEN_NAMES)

RESULTS = []
LOADS = {}  # scenario -> 1-min load average at the start of each round
COMMANDS = {}  # (scenario, label) -> command line, first round
raw_f = open(A.raw if not A.report_only else os.devnull, "w")


def log(*a):
    print("[compare]", *a, file=sys.stderr, flush=True)


def record(**kv):
    RESULTS.append(kv)
    raw_f.write(json.dumps(kv) + "\n")
    raw_f.flush()


def note_cmd(scen, label, argv, env_prefix=""):
    key = (scen, label)
    if key not in COMMANDS:
        COMMANDS[key] = (env_prefix + " " if env_prefix else "") + " ".join(shlex.quote(x) for x in argv)
        raw_f.write(json.dumps({"scenario": "_cmd", "of": scen, "label": label,
                                "cmd": COMMANDS[key]}) + "\n")


# ------------------------------------------------------------------ servers

def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def proc_mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out.get("VmRSS", 0), out.get("VmHWM", 0)


def wait_port(port, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not listening after {timeout}s")


class Server:
    """One server process. kind: ocrpc, cpp, py, py-tuned, nghttpd."""
    PORT_OFF = {"ocrpc": 1, "cpp": 2, "py": 3, "py-tuned": 4, "nghttpd": 5}

    def __init__(self, kind, engine="mock", workers=2, pin=True):
        self.kind, self.engine, self.workers, self.pin = kind, engine, workers, pin
        self.port = A.port_base + self.PORT_OFF[kind]
        env = dict(os.environ)
        env.pop("OMP_THREAD_LIMIT", None)
        env_prefix = ""
        common = ["--port", str(self.port), "--engine", engine, "--workers", str(workers),
                  "--image-root", A.images]
        if kind == "ocrpc":
            argv = [SERVER_BIN, *common, "--http-port", "off", "--access-log", "off",
                    "--log-level", "warn"]
        elif kind == "cpp":
            argv = [CPP_BIN, *common]
        elif kind in ("py", "py-tuned"):
            argv = [PY, PY_SERVER, *common]
            if kind == "py-tuned":
                env["OMP_THREAD_LIMIT"] = "1"
                env_prefix = "OMP_THREAD_LIMIT=1"
        elif kind == "nghttpd":
            d = os.path.join(A.peers, "nghttpd")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "mock.bin"), "wb") as f:
                f.write(b"m" * 128)  # about the size of a mock OCRResponse
            argv = [NGHTTPD, "--no-tls", "-d", d, str(self.port)]
        if pin:
            argv = ["taskset", "-c", "1", *argv]
        self.argv, self.env, self.env_prefix = argv, env, env_prefix
        self.log = open(os.path.join(LOGDIR, f"{kind}-{engine}.log"), "a")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.pid = self.proc.pid
        if kind != "nghttpd":
            run_bench(self, ["-M", "CheckHealth", "-n", "20"], warm=True)

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def cpu(self):
        return proc_cpu_ticks(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_bench(srv, args, warm=False, pin=True, timeout=None):
    argv = [BENCH_BIN, "--json", "--no-progress", *args, srv.target]
    if pin:
        argv = ["taskset", "-c", "0", *argv]
    c0, t0 = srv.cpu(), time.time()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout or 3600)
    c1 = srv.cpu()
    if warm:
        return None
    try:
        j = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        log("bench failed:", " ".join(argv), p.stdout[-500:], p.stderr[-500:])
        j = {"rps": 0, "ok": 0, "errors": -1, "latency_ms": {}}
    j["server_cpu_s"] = (c1 - c0) / TICK
    j["cpu_us_per_req"] = (c1 - c0) / TICK * 1e6 / j["ok"] if j.get("ok") else None
    j["wall_s"] = time.time() - t0
    j["argv"] = argv
    return j


def run_h2load(srv, c, m, dur):
    url = f"http://127.0.0.1:{srv.port}/mock.bin"
    argv = ["taskset", "-c", "0", H2LOAD, "-t", "1", "-c", str(c), "-m", str(m),
            "-D", str(max(1, int(dur))), url]
    c0 = srv.cpu()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    c1 = srv.cpu()
    rps, done, failed, mean = 0.0, 0, 0, None
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        elif line.startswith("requests:"):
            parts = line.replace(",", "").split()
            done = int(parts[parts.index("succeeded") - 1])
            failed = int(parts[parts.index("failed") - 1]) + int(parts[parts.index("errored") - 1])
        elif line.startswith("time for request:"):
            mean = line.split()[5]
    return {"rps": rps, "ok": done, "errors": failed, "latency_ms": {"mean_text": mean},
            "cpu_us_per_req": (c1 - c0) / TICK * 1e6 / done if done else None, "argv": argv}


# ---------------------------------------------------------------- scenarios

MOCK_CASES = [(1, 1), (16, 10), (100, 1), (1000, 1)]
MOCK_SERVERS = ["ocrpc", "cpp", "py", "nghttpd"]


def order(servers, rnd):
    """A B C, then C B A: interleaved, and no server always first."""
    return servers if rnd % 2 == 0 else list(reversed(servers))


def dur_arg():
    return f"{A.duration:g}s"


def scen_mock(rnd):
    for kind in order(MOCK_SERVERS, rnd):
        srv = Server(kind, "mock")
        try:
            for c, m in MOCK_CASES:
                case = f"c={c} m={m}"
                if kind == "nghttpd":
                    j = run_h2load(srv, c, m, A.duration)
                else:
                    run_bench(srv, ["-c", str(c), "-m", str(m), "-d", "1s"], warm=True)
                    j = run_bench(srv, ["-c", str(c), "-m", str(m), "-d", dur_arg()])
                note_cmd("1", f"{kind} {case}", j["argv"])
                note_cmd("1", f"{kind} server", srv.argv, srv.env_prefix)
                record(scenario="1", case=case, server=kind, round=rnd, **strip(j))
                log(f"mock {kind} {case}: {j['rps']:.0f} req/s p99={j['latency_ms'].get('p99')} "
                    f"cpu/req={fmt(j.get('cpu_us_per_req'))}us")
        finally:
            srv.stop()


def cpp_peak():
    vals = {}
    for r in RESULTS:
        if r["scenario"] == "1" and r["server"] == "cpp":
            vals.setdefault(r["case"], []).append(r["rps"])
    if vals:
        return max(statistics.median(v) for v in vals.values())
    return None


PEAK = {}


def scen_open(rnd):
    peak = cpp_peak()
    if peak is None:
        if "measured" not in PEAK:
            srv = Server("cpp", "mock")
            try:
                run_bench(srv, ["-c", "16", "-m", "10", "-d", "1s"], warm=True)
                j = run_bench(srv, ["-c", "16", "-m", "10", "-d", dur_arg()])
            finally:
                srv.stop()
            PEAK["measured"] = j["rps"]
            record(scenario="2", case="cpp peak c=16 m=10", server="cpp", round=rnd, **strip(j))
        peak = PEAK["measured"]
    PEAK["used"] = peak
    for kind in order(["ocrpc", "cpp", "py"], rnd):
        srv = Server(kind, "mock")
        try:
            for frac in (0.5, 0.9):
                rate = round(peak * frac)
                case = f"{int(frac * 100)}% of cpp peak"
                run_bench(srv, ["-c", "16", "-m", "10", "-d", "1s", "--rate", str(rate)], warm=True)
                j = run_bench(srv, ["-c", "16", "-m", "10", "-d", dur_arg(), "--rate", str(rate)])
                note_cmd("2", f"{kind} {case}", j["argv"])
                record(scenario="2", case=case, server=kind, round=rnd, **strip(j))
                log(f"open {kind} {case} ({rate}/s): p99={j['latency_ms'].get('p99')} "
                    f"p99.9={j['latency_ms'].get('p99_9')}")
        finally:
            srv.stop()


def tess_counts():
    return (16, 12) if A.quick else (48, 96)


TESS_LISTS = [("eng", "list_eng.txt", "english"), ("kor", "list_kor.txt", "korean")]


def scen_tess(rnd):
    n_eng, n_kor = tess_counts()
    ns = {"eng": n_eng, "kor": n_kor}
    for kind in order(["ocrpc", "tess-limit", "cpp", "py", "py-tuned"], rnd):
        if kind == "tess-limit":
            for lang, lst, _ in TESS_LISTS:
                argv = [TESS_LIMIT, "-t", "2", "-n", str(ns[lang]), "--root", A.images,
                        os.path.join(A.images, lst)]
                p = subprocess.run(argv, capture_output=True, text=True)
                j = json.loads(p.stdout)
                note_cmd("3", f"tess-limit {lang}", argv)
                record(scenario="3", case=lang, server=kind, round=rnd, rps=j["images_per_s"],
                       ok=j["images"], errors=j["failures"], secs=j["seconds"],
                       latency_ms={"p50": j["p50_ms"], "p95": j["p95_ms"], "p99": j["p99_ms"]})
                log(f"tess {kind} {lang}: {j['images_per_s']:.2f} img/s")
            continue
        # Not pinned: 2 workers need both cores (tess-limit gets both too);
        # the load generator only waits.
        srv = Server(kind, "tesseract", workers=2, pin=False)
        try:
            for lang, lst, name in TESS_LISTS:  # warm every worker's engines
                run_bench(srv, ["-c", "1", "-m", "4", "-n", "8", "--list",
                                os.path.join(A.images, lst), "--language", name, "--timeout", "120s"],
                          warm=True, pin=False)
            for lang, lst, name in TESS_LISTS:
                j = run_bench(srv, ["-c", "1", "-m", "4", "-n", str(ns[lang]), "--list",
                                    os.path.join(A.images, lst), "--language", name,
                                    "--timeout", "300s"], pin=False)
                if j.get("duration_s"):  # more digits than the JSON's rps
                    j["rps"] = j["ok"] / j["duration_s"]
                note_cmd("3", f"{kind} {lang}", j["argv"])
                note_cmd("3", f"{kind} server", srv.argv, srv.env_prefix)
                record(scenario="3", case=lang, server=kind, round=rnd, secs=j.get("duration_s"),
                       **strip(j))
                log(f"tess {kind} {lang}: {j['rps']:.2f} img/s errors={j.get('errors')}")
        finally:
            srv.stop()


def scen_batch(rnd):
    lst = os.path.join(A.images, "batch100.txt")
    for kind in order(["ocrpc", "cpp", "py"], rnd):
        srv = Server(kind, "tesseract", workers=2, pin=False)
        try:
            run_bench(srv, ["-c", "1", "-m", "4", "-n", "8", "--list",
                            os.path.join(A.images, "list_eng.txt"), "--language", "english",
                            "--timeout", "120s"], warm=True, pin=False)
            argv = [PY, os.path.join(TOOLS, "batch_client.py"), srv.target, lst,
                    "--language", "english"]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            try:
                j = json.loads(p.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                log("batch failed:", p.stdout[-300:], p.stderr[-500:])
                j = {"first_s": None, "total_s": None, "failed": -1, "messages": 0}
            note_cmd("4", kind, argv)
            note_cmd("4", f"{kind} server", srv.argv, srv.env_prefix)
            record(scenario="4", case="batch 100", server=kind, round=rnd, **j)
            log(f"batch {kind}: first={j.get('first_s')} total={j.get('total_s')}")
        finally:
            srv.stop()


def scen_idle(rnd):
    for kind in order(["ocrpc", "cpp", "py"], rnd):
        srv = Server(kind, "mock")
        hold = None
        try:
            rss0, _ = proc_mem_kb(srv.pid)
            argv = ["taskset", "-c", "0", PY, os.path.join(TOOLS, "h2hold.py"), srv.target,
                    str(A.idle)]
            note_cmd("5", f"{kind} holder", argv)
            hold = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            ready = json.loads(hold.stdout.readline() or "{}")
            time.sleep(1)
            rss_idle, _ = proc_mem_kb(srv.pid)
            j = run_bench(srv, ["-c", "100", "-m", "1", "-d", dur_arg()])
            note_cmd("5", f"{kind} load", j["argv"])
            rss_load, hwm = proc_mem_kb(srv.pid)
            hold.send_signal(signal.SIGTERM)
            done = json.loads(hold.stdout.readline() or "{}")
            hold.wait(30)
            errs = (ready.get("connect_errors", 0) + done.get("closed_by_server", 0)
                    + done.get("goaways", 0) + max(0, j.get("errors", 0)))
            record(scenario="5", case=f"{A.idle} idle + 100 loaded", server=kind, round=rnd,
                   rss_start_kb=rss0, rss_idle_kb=rss_idle, rss_load_kb=rss_load, hwm_kb=hwm,
                   held=ready.get("open", 0), connect_errors=ready.get("connect_errors"),
                   closed_by_server=done.get("closed_by_server"), goaways=done.get("goaways"),
                   first_error=ready.get("first_error") or done.get("first_error"),
                   bench_errors=j.get("errors"), errors=errs, **strip(j, drop=("errors",)))
            log(f"idle {kind}: held={ready.get('open')} rss idle={rss_idle/1024:.0f}MiB "
                f"load={rss_load/1024:.0f}MiB errors={errs} rps={j['rps']}")
        finally:
            if hold and hold.poll() is None:
                hold.kill()
                hold.wait()
            srv.stop()


def scen_upload(rnd):
    big = os.path.join(A.images, "big20m.png")
    for kind in order(["ocrpc", "cpp", "py"], rnd):
        srv = Server(kind, "mock")
        try:
            run_bench(srv, ["-c", "1", "-m", "1", "-n", "1", "--file", big, "--timeout", "120s"],
                      warm=True)
            j = run_bench(srv, ["-c", "1", "-m", "1", "-n", "5", "--file", big,
                                "--timeout", "120s"])
            note_cmd("6", kind, j["argv"])
            record(scenario="6", case="20 MiB inline x5", server=kind, round=rnd, **strip(j))
            log(f"upload {kind}: mean={j['latency_ms'].get('mean')} ms errors={j.get('errors')}")
        finally:
            srv.stop()


def strip(j, drop=()):
    return {k: v for k, v in j.items() if k not in ("argv", "target", *drop)}


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.{nd}f}"
    return str(v)


# ------------------------------------------------------------------ report

def med(rows, key, sub=None):
    vals = []
    for r in rows:
        v = r.get(key)
        if sub is not None:
            v = (v or {}).get(sub)
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None


def ratio(v, base):
    if v is None or not base:
        return "–"
    return f"{v / base:.2f}×"


def rows_for(scen, case, server):
    return [r for r in RESULTS if r["scenario"] == scen and r["case"] == case and r["server"] == server]


def targets():
    """The project's goals against the C++ peer and tess-limit, from the medians."""
    T = ["## Targets\n", "| target | measured | met |", "|---|---:|:---:|"]

    def row(name, val, ok, unit="×"):
        if val is None:
            return
        T.append(f"| {name} | {val:.2f}{unit} | {'yes' if ok(val) else '**no**'} |")

    def m1(case, srv, key, sub=None):
        return med(rows_for("1", case, srv), key, sub)

    if "1" in wanted:
        for case, goal in (("c=16 m=10", 2.0), ("c=100 m=1", 1.5)):
            o, c = m1(case, "ocrpc", "rps"), m1(case, "cpp", "rps")
            if o and c:
                row(f"mock req/s ocrpc ÷ cpp at {case} ≥ {goal}", o / c, lambda v, g=goal: v >= g)
        for c_, m_ in MOCK_CASES:
            case = f"c={c_} m={m_}"
            o, c = m1(case, "ocrpc", "latency_ms", "p99"), m1(case, "cpp", "latency_ms", "p99")
            if o and c:
                row(f"mock p99 ocrpc ÷ cpp at {case} ≤ 0.5", o / c, lambda v: v <= 0.5)
        for c_, m_ in MOCK_CASES:
            case = f"c={c_} m={m_}"
            o, c = m1(case, "ocrpc", "cpu_us_per_req"), m1(case, "cpp", "cpu_us_per_req")
            if o and c:
                row(f"mock server CPU/req ocrpc ÷ cpp at {case} ≤ 0.5", o / c, lambda v: v <= 0.5)
    if "2" in wanted:
        for frac in ("50", "90"):
            case = f"{frac}% of cpp peak"
            o = med(rows_for("2", case, "ocrpc"), "latency_ms", "p99")
            c = med(rows_for("2", case, "cpp"), "latency_ms", "p99")
            if o and c:
                row(f"open-loop p99 ocrpc ÷ cpp at {case} ≤ 0.5", o / c, lambda v: v <= 0.5)
    if "3" in wanted:
        n_eng, n_kor = tess_counts()

        def comb(srv):
            e = med(rows_for("3", "eng", srv), "secs")
            k = med(rows_for("3", "kor", srv), "secs")
            return (n_eng + n_kor) / (e + k) if e and k else None
        o, t = comb("ocrpc"), comb("tess-limit")
        if o and t:
            row("Tesseract images/s ocrpc ÷ tess-limit (combined) ≥ 0.97", o / t, lambda v: v >= 0.97)
        for lang in ("eng", "kor"):
            a = med(rows_for("3", lang, "ocrpc"), "rps")
            b = med(rows_for("3", lang, "tess-limit"), "rps")
            if a and b:
                row(f"Tesseract images/s ocrpc ÷ tess-limit ({lang}) ≥ 0.97", a / b, lambda v: v >= 0.97)
        for lang in ("eng", "kor"):
            a = max([r["rps"] for r in rows_for("3", lang, "ocrpc")] or [0])
            b = max([r["rps"] for r in rows_for("3", lang, "tess-limit")] or [0])
            c = max([r["rps"] for r in rows_for("3", lang, srv)] + [0] for srv in ("py", "py-tuned"))
            if a and b:
                row(f"Tesseract best-round images/s ocrpc ÷ tess-limit ({lang}) ≥ 0.97", a / b,
                    lambda v: v >= 0.97)
            if a and max(c):
                row(f"Tesseract best-round images/s ocrpc ÷ py-aio's best ({lang}) ≥ 1", a / max(c),
                    lambda v: v >= 1.0)
        best = max([v for v in (comb("py"), comb("py-tuned")) if v] or [0])
        if o and best:
            row("Tesseract images/s ocrpc ÷ py-aio's best (combined) ≥ 1", o / best, lambda v: v >= 1.0)
    if "5" in wanted:
        case = f"{A.idle} idle + 100 loaded"
        rs = rows_for("5", case, "ocrpc")
        if rs:
            errs = max(r["errors"] for r in rs)
            T.append(f"| {A.idle} idle connections + load: ocrpc errors = 0 | {errs} | "
                     f"{'yes' if errs == 0 else '**no**'} |")
            o, c = med(rs, "rss_idle_kb"), med(rows_for("5", case, "cpp"), "rss_idle_kb")
            if o and c:
                row("RSS with idle connections ocrpc ÷ cpp < 1", o / c, lambda v: v < 1.0)
            o, c = med(rs, "hwm_kb"), med(rows_for("5", case, "cpp"), "hwm_kb")
            if o and c:
                row("peak RSS (idle + load) ocrpc ÷ cpp < 1", o / c, lambda v: v < 1.0)
    T.append("")
    return T


def machine():
    model = cores = ""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
        if line.startswith("CPU(s):"):
            cores = line.split(":", 1)[1].strip()
    mem = ""
    with open("/proc/meminfo") as f:
        mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    return model, cores, platform.release(), mem


def load_snapshot():
    up = open("/proc/loadavg").read().split()[:3]
    top = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True,
                         text=True).stdout.splitlines()[1:6]
    return " ".join(up), "; ".join(" ".join(t.split()) for t in top)


def report(load_before, load_after, started, elapsed):
    model, cores, kernel, mem = machine()
    L = []
    L.append("# ocrpc benchmark results\n")
    L.append(f"Generated by `{os.environ.get('COMPARE_CMDLINE', 'bench/compare.sh').strip()}`"
             + f" ({'quick' if A.quick else 'full'} run, {A.rounds} round(s), "
             f"{A.duration:g} s per load run, scenarios {','.join(sorted(wanted))}), "
             f"started {started}, took {elapsed / 60:.1f} min.\n")
    L.append(f"- Machine: {model}, {cores} CPUs, {mem} RAM, Linux {kernel}")
    L.append(f"- Load average (1/5/15 min) before: {load_before[0]}; after: {load_after[0]}")
    L.append(f"- Busiest processes before: {load_before[1]}")
    L.append(f"- Busiest processes after: {load_after[1]}")
    L.append("- 1-min load average at the start of each round (ours included): " + "; ".join(
        f"scenario {k}: {', '.join(v)}" for k, v in sorted(LOADS.items())))
    L.append("- Pinning: load generator `taskset -c 0`, server `taskset -c 1` in scenarios "
             "1, 2, 5, 6. Scenarios 3 and 4 (Tesseract, 2 workers) leave every process "
             "unpinned, since 2 workers need both cores (tess-limit gets both too).")
    L.append("- Figures are medians over rounds; rounds interleave the servers "
             "(A B C, then C B A, ...). `× ocrpc` = peer's value / ocrpc's value.")
    L.append("- CPU/req: server utime+stime delta (from /proc/PID/stat, all threads) "
             "over the run, divided by the requests completed.\n")

    if "1" in wanted:
        L.append("## 1. Mock engine, unary ExtractText, closed loop\n")
        L.append("| case | server | req/s | p50 ms | p95 ms | p99 ms | CPU µs/req | req/s × ocrpc | p99 × ocrpc | CPU/req × ocrpc | errors |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c, m in MOCK_CASES:
            case = f"c={c} m={m}"
            base = rows_for("1", case, "ocrpc")
            b_rps, b_p99, b_cpu = med(base, "rps"), med(base, "latency_ms", "p99"), med(base, "cpu_us_per_req")
            for s in MOCK_SERVERS:
                rs = rows_for("1", case, s)
                if not rs:
                    continue
                rps, cpu = med(rs, "rps"), med(rs, "cpu_us_per_req")
                p50, p95, p99 = (med(rs, "latency_ms", k) for k in ("p50", "p95", "p99"))
                name = {"py": "py-aio", "nghttpd": "nghttpd (h2load, HTTP/2 ceiling)"}.get(s, s)
                L.append(f"| {case} | {name} | {fmt(rps)} | {fmt(p50, 2)} | {fmt(p95, 2)} | "
                         f"{fmt(p99, 2)} | {fmt(cpu)} | {'' if s == 'ocrpc' else ratio(rps, b_rps)} | "
                         f"{'' if s == 'ocrpc' else ratio(p99, b_p99)} | "
                         f"{'' if s == 'ocrpc' else ratio(cpu, b_cpu)} | {fmt(med(rs, 'errors'), 0)} |")
        L.append("\nnghttpd rows: h2load reports no percentiles; its latency columns are empty.\n")

    if "2" in wanted:
        L.append("## 2. Mock engine, open loop (c=16 m=10, --rate)\n")
        L.append(f"cpp peer's peak (this run): {fmt(PEAK.get('used'))} req/s.\n")
        L.append("| rate | server | achieved req/s | p50 ms | p99 ms | p99.9 ms | p99 × ocrpc | p99.9 × ocrpc | errors |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for frac in ("50", "90"):
            case = f"{frac}% of cpp peak"
            base = rows_for("2", case, "ocrpc")
            b99, b999 = med(base, "latency_ms", "p99"), med(base, "latency_ms", "p99_9")
            for s in ["ocrpc", "cpp", "py"]:
                rs = rows_for("2", case, s)
                if not rs:
                    continue
                p99, p999 = med(rs, "latency_ms", "p99"), med(rs, "latency_ms", "p99_9")
                L.append(f"| {case} ({fmt(med(rs, 'rate'))}/s) | {'py-aio' if s == 'py' else s} | "
                         f"{fmt(med(rs, 'rps'))} | {fmt(med(rs, 'latency_ms', 'p50'), 2)} | "
                         f"{fmt(p99, 2)} | {fmt(p999, 2)} | {'' if s == 'ocrpc' else ratio(p99, b99)} | "
                         f"{'' if s == 'ocrpc' else ratio(p999, b999)} | {fmt(med(rs, 'errors'), 0)} |")
        L.append("")

    if "3" in wanted:
        n_eng, n_kor = tess_counts()
        L.append("## 3. Tesseract, unary ExtractText, 2 workers\n")
        L.append(f"Image list from `bench/gen_images.sh`: {n_eng} English requests per run "
                 f"(12 lines + 4 six-line pages, cycled) and {n_kor} Korean requests "
                 "(12 NanumGothic lines, cycled); one connection, 4 streams (c=1 m=4, so a "
                 "worker never waits for the network; latency includes the queue). "
                 "`combined` = all images / sum of both runs' median times. `best round` = the "
                 "fastest of the rounds: other processes on the machine only ever slow a run "
                 "down, so on a shared machine it is the steadier figure for throughput.\n")
        L.append("| images | server | images/s (median) | best round img/s | p50 ms | p95 ms | p99 ms | median × ocrpc | best × ocrpc | errors |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        servers = ["ocrpc", "tess-limit", "cpp", "py", "py-tuned"]
        names = {"py": "py-aio (untuned)", "py-tuned": "py-aio (OMP_THREAD_LIMIT=1)",
                 "tess-limit": "tess-limit (no network)"}
        comb = {}
        for lang in ("eng", "kor"):
            base = med(rows_for("3", lang, "ocrpc"), "rps")
            bbase = max([r["rps"] for r in rows_for("3", lang, "ocrpc")] or [0])
            for s in servers:
                rs = rows_for("3", lang, s)
                if not rs:
                    continue
                rps = med(rs, "rps")
                secs = med(rs, "secs")
                comb.setdefault(s, [0, 0.0])
                comb[s][0] += n_eng if lang == "eng" else n_kor
                comb[s][1] += secs or 0
                best = max(r["rps"] for r in rs)
                L.append(f"| {lang} | {names.get(s, s)} | {fmt(rps, 2)} | {fmt(best, 2)} | "
                         f"{fmt(med(rs, 'latency_ms', 'p50'))} | {fmt(med(rs, 'latency_ms', 'p95'))} | "
                         f"{fmt(med(rs, 'latency_ms', 'p99'))} | "
                         f"{'' if s == 'ocrpc' else ratio(rps, base)} | "
                         f"{'' if s == 'ocrpc' else ratio(best, bbase)} | {fmt(med(rs, 'errors'), 0)} |")
        if "ocrpc" in comb and comb["ocrpc"][1]:
            base = comb["ocrpc"][0] / comb["ocrpc"][1]
            for s in servers:
                if s in comb and comb[s][1]:
                    v = comb[s][0] / comb[s][1]
                    L.append(f"| combined | {names.get(s, s)} | {fmt(v, 2)} | | | | | "
                             f"{'' if s == 'ocrpc' else ratio(v, base)} | | |")
        L.append("")

    if "4" in wanted:
        L.append("## 4. ExtractTextBatch, 100 English images, Tesseract, 2 workers\n")
        L.append("Measured by `bench/peers/tools/batch_client.py` (grpcio): time from the "
                 "call to the first progress message, and to the end of the stream. py-aio "
                 "is the guide's batch (one image after another), as deployed (OpenMP untouched).\n")
        L.append("| server | first progress s | total s | images/s | total × ocrpc | failed |")
        L.append("|---|---:|---:|---:|---:|---:|")
        base = med(rows_for("4", "batch 100", "ocrpc"), "total_s")
        for s in ["ocrpc", "cpp", "py"]:
            rs = rows_for("4", "batch 100", s)
            if not rs:
                continue
            tot = med(rs, "total_s")
            L.append(f"| {'py-aio' if s == 'py' else s} | {fmt(med(rs, 'first_s'), 3)} | {fmt(tot, 2)} | "
                     f"{fmt(med(rs, 'images_per_s'), 2)} | {'' if s == 'ocrpc' else ratio(tot, base)} | "
                     f"{fmt(med(rs, 'failed'), 0)} |")
        L.append("")

    if "5" in wanted:
        L.append(f"## 5. {A.idle} idle HTTP/2 connections, then 100 loaded (mock engine)\n")
        L.append("The holder (`h2hold.py`) sends the preface and SETTINGS on each connection "
                 "and answers SETTINGS and PING; ocrpc-bench then opens 100 more and runs "
                 f"c=100 m=1 for {A.duration:g} s. errors = failed connects + connections "
                 "the server closed or sent GOAWAY on + failed calls.\n")
        L.append("| server | held | RSS start MiB | RSS idle MiB | RSS under load MiB | peak RSS MiB | RSS idle × ocrpc | req/s under load | p99 ms | errors |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        case = f"{A.idle} idle + 100 loaded"
        base = med(rows_for("5", case, "ocrpc"), "rss_idle_kb")
        for s in ["ocrpc", "cpp", "py"]:
            rs = rows_for("5", case, s)
            if not rs:
                continue
            mb = lambda k: (med(rs, k) or 0) / 1024  # noqa: E731
            L.append(f"| {'py-aio' if s == 'py' else s} | {fmt(med(rs, 'held'), 0)} | {fmt(mb('rss_start_kb'))} | "
                     f"{fmt(mb('rss_idle_kb'))} | {fmt(mb('rss_load_kb'))} | {fmt(mb('hwm_kb'))} | "
                     f"{'' if s == 'ocrpc' else ratio(med(rs, 'rss_idle_kb'), base)} | {fmt(med(rs, 'rps'))} | "
                     f"{fmt(med(rs, 'latency_ms', 'p99'), 2)} | {fmt(max(r['errors'] for r in rs), 0)} |")
        errs = [r.get("first_error") for r in RESULTS if r["scenario"] == "5" and r.get("first_error")]
        if errs:
            L.append(f"\nFirst connection error seen: `{errs[0]}`")
        L.append("")

    if "6" in wanted:
        L.append("## 6. 20 MiB inline image upload (mock engine, c=1, 5 calls)\n")
        L.append("| server | mean s/call | p50 s | max s | MiB/s | mean × ocrpc | errors |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        base = med(rows_for("6", "20 MiB inline x5", "ocrpc"), "latency_ms", "mean")
        size = os.path.getsize(os.path.join(A.images, "big20m.png")) / 1048576
        for s in ["ocrpc", "cpp", "py"]:
            rs = rows_for("6", "20 MiB inline x5", s)
            if not rs:
                continue
            mean = med(rs, "latency_ms", "mean")
            L.append(f"| {'py-aio' if s == 'py' else s} | {fmt(mean / 1000 if mean else None, 3)} | "
                     f"{fmt((med(rs, 'latency_ms', 'p50') or 0) / 1000, 3)} | "
                     f"{fmt((med(rs, 'latency_ms', 'max') or 0) / 1000, 3)} | "
                     f"{fmt(size / (mean / 1000) if mean else None)} | "
                     f"{'' if s == 'ocrpc' else ratio(mean, base)} | {fmt(med(rs, 'errors'), 0)} |")
        L.append("")

    L.extend(targets())
    # The optimisation log is written by hand (profiles, before/after
    # figures); the report carries it so RESULTS.md stays one document.
    notes = os.path.join(REPO, "bench", "OPTIMISATIONS.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read().rstrip("\n") + "\n")
    L.append("## Commands (first round; ports are per server)\n")
    L.append("```sh")
    for (scen, label), cmd in sorted(COMMANDS.items()):
        L.append(f"# [{scen}] {label}")
        L.append(cmd)
    L.append("```")
    L.append(f"\nRaw measurements, one JSON line each: `{os.path.relpath(A.raw, REPO)}`.")
    return "\n".join(L) + "\n"


def report_only():
    global wanted
    for path in A.report_only:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r["scenario"] == "_cmd":
                    COMMANDS.setdefault((r["of"], r["label"]), r["cmd"])
                elif r["scenario"] == "_load":
                    LOADS.setdefault(r["of"], []).append(r["load1"])
                elif r["scenario"] in SCEN_NAMES and (not A.only or r["scenario"] in wanted):
                    RESULTS.append(r)
    wanted = {r["scenario"] for r in RESULTS}
    PEAK["used"] = cpp_peak()
    for r in RESULTS:
        if r["scenario"] == "2" and r["server"] == "cpp" and "peak" in r["case"]:
            PEAK["used"] = r["rps"]
    now = load_snapshot()
    text = report(("(see the raw files)", "–"), now,
                  "from " + ", ".join(os.path.relpath(p, REPO) for p in A.report_only), 0)
    report_merge.write_merged(A.out, text)  # keeps the sections written by hand
    log(f"wrote {A.out}")


def main():
    if A.report_only:
        return report_only()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    t0 = time.time()
    lb = load_snapshot()
    log(f"load before: {lb[0]}; rounds={A.rounds} duration={A.duration}s scenarios={sorted(wanted)}")
    funcs = {"1": scen_mock, "2": scen_open, "3": scen_tess, "4": scen_batch,
             "5": scen_idle, "6": scen_upload}
    # Scenario by scenario, each in interleaved rounds; 2 after 1 so that it
    # uses the cpp peak measured in the same run.
    for s in ["1", "2", "3", "4", "5", "6"]:
        if s not in wanted:
            continue
        for rnd in range(A.rounds):
            la1 = open("/proc/loadavg").read().split()[0]
            LOADS.setdefault(s, []).append(la1)
            raw_f.write(json.dumps({"scenario": "_load", "of": s, "round": rnd, "load1": la1}) + "\n")
            log(f"scenario {s} ({SCEN_NAMES[s]}) round {rnd + 1}/{A.rounds}, load {la1}")
            funcs[s](rnd)
    la = load_snapshot()
    text = report(lb, la, started, time.time() - t0)
    report_merge.write_merged(A.out, text)  # keeps the sections written by hand
    log(f"wrote {A.out}")


if __name__ == "__main__":
    main()
