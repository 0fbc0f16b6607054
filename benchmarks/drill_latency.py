"""Latency and throughput of the web drill's API under load.

Starts `examforge serve` on a free loopback port (or uses --url), waits until every worker
process has started and warmed up (the server idle), then runs 20 concurrent clients for 30 s.
Each client loops: pick a question type at random, GET /api/variant (a new seed every time, so
no variant is cached), then POST /api/check with a well-formed answer of the variant's format
(usually wrong: the full grading path, worked solution included). Reports p50/p95/p99 per
request kind, new variants per second, and the server's CPU time per variant + check and per
process (a keep-alive connection stays on the worker that accepted it, so an uneven split of
the clients shows there).

Targets on the 2-core machine: p95 < 50 ms for both kinds, and > 200 variants/s.

    .venv/bin/python benchmarks/drill_latency.py [--clients 20] [--duration 30] [--workers 2] [--json]

Through a load balancer: `--url http://HOST:PORT` runs the clients against any running server
or balancer; `--haproxy` starts two `examforge serve --workers 1` backends (--workers each) and
Debian's haproxy with examples/haproxy.cfg on free loopback ports, and `--kill-at SECONDS` kills
the first backend (SIGKILL to its process group) that many seconds into the measured run. The
report then says how many requests were in flight at the kill, and the errors and latencies
before, around (the 2 s after) and after it.

The client is a minimal asyncio HTTP/1.1 keep-alive client, so it takes little of the CPU it
shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 50.0
TARGET_VARIANTS_PER_S = 200.0


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are sequential on it. When a response says
    "Connection: close" (the server spreading clients over its workers), the next request
    reconnects, as any HTTP client does."""

    closed_by_server = 0

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name.lower() == "connection" and "close" in value.lower():
                close = True  # the server ends this connection: the next request opens a new one
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
        else:
            data = await self.reader.readexactly(length)
        if close:
            self.close()
            self.reader = self.writer = None
            Connection.closed_by_server += 1
        return status, data

    def close(self):
        if self.writer is not None:
            self.writer.close()


class Tracker:
    """Requests in flight now, and when each request ended (for the errors around a kill)."""

    def __init__(self):
        self.in_flight = 0
        self.in_flight_at_kill: int | None = None
        self.killed_at: float | None = None


def plausible_answer(variant: dict):
    """A well-formed answer for the variant's format (graded, not refused)."""
    fmt = variant["answer_format"]
    kind = fmt["kind"]
    if kind == "choice":
        return variant["choices"][0]["letter"]
    if kind == "bool":
        return "true"
    if kind == "shape":
        return ["7"] * fmt.get("rank", 2)
    if kind == "matrix":
        return [["1", "2"], ["3", "4"]]
    if fmt.get("labels"):
        return ["1"] * (len(fmt["labels"]) - 1) if kind == "vector" else "1"
    if kind == "vector":
        return "1, 2, 3"
    return "1"


def _error(stats, message: str) -> None:
    stats["errors"].append(message)
    stats["error_at"].append(time.perf_counter())


async def client(host, port, types, stop_at, warm_until, stats, rng, tracker: Tracker | None = None):
    tracker = tracker or Tracker()
    conn = Connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            try:
                await one_round(conn, types, warm_until, stats, rng, tracker)
            except (OSError, asyncio.IncompleteReadError, ValueError) as err:  # count it, reconnect
                if time.perf_counter() >= warm_until:
                    _error(stats, f"connection: {type(err).__name__}: {err}")
                conn.close()
                conn = Connection(host, port)
    finally:
        conn.close()


async def _timed(conn, tracker: Tracker, stats, method: str, path: str, body: bytes | None = None):
    tracker.in_flight += 1
    t0 = time.perf_counter()
    try:
        status, data = await conn.request(method, path, body)
    finally:
        tracker.in_flight -= 1
    t1 = time.perf_counter()
    stats["ended"].append((t1, 1000 * (t1 - t0)))  # every request, for the latency around a kill
    return status, data, t0, t1


async def one_round(conn, types, warm_until, stats, rng, tracker: Tracker):
    """One new variant and one check on this connection."""
    type_id = rng.choice(types)
    status, body, t0, t1 = await _timed(conn, tracker, stats, "GET", "/api/variant?" + urlencode({"type": type_id}))
    measuring = t0 >= warm_until
    if status != 200:
        if measuring:
            _error(stats, f"variant {type_id}: {status} {body[:120]!r}")
        return
    variant = json.loads(body)
    payload = json.dumps({"type": variant["type"], "seed": variant["seed"], "difficulty": variant["difficulty"],
                          "form": variant["form"], "answer": plausible_answer(variant)}).encode()
    status, body, t2, t3 = await _timed(conn, tracker, stats, "POST", "/api/check", payload)
    if not measuring:
        return
    stats["variant"].append(1000 * (t1 - t0))
    stats["variant_by_type"].setdefault(type_id, []).append(1000 * (t1 - t0))
    if status == 200:
        stats["check"].append(1000 * (t3 - t2))
    else:
        _error(stats, f"check {type_id}: {status} {body[:120]!r}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def process_cpu_seconds(root: int) -> dict[int, float] | None:
    """CPU time (user + system) of a process and each of its descendants, from /proc (Linux)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, AttributeError):
        return None
    family, changed = {root}, True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    return {pid: cpu[pid] for pid in family if pid in cpu}


async def wait_settled(proc: subprocess.Popen, workers: int, timeout: float = 180) -> None:
    """Wait until every server process has finished starting and warming up: `workers` worker
    processes exist and the whole server has been idle (under 2% of a core) for a second. The
    first worker to answer is not enough: the others would still be importing and warming up
    during the run (and clients that connect before they listen start out on the first one)."""
    deadline = time.time() + timeout
    last, quiet = None, 0
    while time.time() < deadline:
        per_process = process_cpu_seconds(proc.pid)
        if per_process is None:  # no /proc: the old behaviour, a fixed grace period
            await asyncio.sleep(5)
            return
        total = sum(per_process.values())
        enough = len(per_process) - (1 if workers > 1 else 0) >= workers
        quiet = quiet + 1 if enough and last is not None and total - last < 0.015 else 0
        if quiet >= 2:
            return
        last = total
        await asyncio.sleep(0.5)
    raise SystemExit("the drill server's workers did not finish starting")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    """`examforge serve` from this checkout on a free loopback port, in a session of its own
    (so that it and its worker processes can be killed together)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "examforge.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


async def wait_ready(host: str, port: int, timeout: float = 180) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        conn = Connection(host, port)
        try:
            status, body = await conn.request("GET", "/api/types")
            if status == 200:
                return [t["id"] for t in json.loads(body)["types"]]
        except OSError:
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.5)
    raise SystemExit("the drill server did not come up")


async def run(url: str, clients: int, duration: float, warmup: float, seed: int, proc=None,
              workers: int = 1, *, settle: list | None = None, kill=None, kill_at: float | None = None) -> dict:
    """`proc`: the server whose CPU is measured; `settle`: processes to wait for (each with
    `workers` workers) before the clients start; `kill`: called `kill_at` seconds into the
    measured run (a backend behind the balancer dies)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    types = await wait_ready(host, port)
    for p in settle or ([proc] if proc is not None else []):  # every worker builds its type table at start-up
        await wait_settled(p, workers)
    stats = {"variant": [], "check": [], "errors": [], "error_at": [], "ended": [], "variant_by_type": {}}
    tracker = Tracker()
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + duration
    rng = random.Random(seed)
    tasks = [asyncio.ensure_future(client(host, port, types, stop_at, warm_until, stats, random.Random(rng.random()),
                                          tracker))
             for _ in range(clients)]
    await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
    cpu_before = process_cpu_seconds(proc.pid) if proc else None
    if kill is not None and kill_at is not None:
        await asyncio.sleep(kill_at)
        tracker.in_flight_at_kill = tracker.in_flight
        tracker.killed_at = time.perf_counter()
        kill()
    await asyncio.gather(*tasks)
    cpu_after = process_cpu_seconds(proc.pid) if proc else None
    measured = time.perf_counter() - warm_until
    out = {
        "clients": clients, "duration_s": round(measured, 1), "types": len(types),
        "variants": len(stats["variant"]), "checks": len(stats["check"]),
        "variants_per_s": round(len(stats["variant"]) / measured, 1),
        "checks_per_s": round(len(stats["check"]) / measured, 1),
        "variant_ms": {q: round(pct(stats["variant"], q), 1) for q in (50, 95, 99)},
        "check_ms": {q: round(pct(stats["check"], q), 1) for q in (50, 95, 99)},
        "slowest_types_p50_ms": dict(sorted(
            ((t, round(statistics.median(v), 1)) for t, v in stats["variant_by_type"].items()),
            key=lambda kv: -kv[1])[:5]),
        "errors": len(stats["errors"]), "error_samples": stats["errors"][:5],
        "reconnects": Connection.closed_by_server,
    }
    if tracker.killed_at is not None:
        out["kill"] = around_kill(stats, tracker, warm_until)
    if cpu_before is not None and cpu_after is not None and stats["variant"]:
        # Server CPU per variant+check pair, and what two otherwise idle cores could serve.
        used = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
        per_pair = sum(used.values()) / len(stats["variant"])
        out["server_cpu_ms_per_pair"] = round(1000 * per_pair, 2)
        out["server_cpu_share_cores"] = round(sum(used.values()) / measured, 2)
        # how the work spread over the processes (a keep-alive connection stays on one worker)
        out["server_cores_per_process"] = sorted((round(u / measured, 2) for u in used.values()
                                                  if u / measured >= 0.005), reverse=True)
        out["projected_variants_per_s_on_2_idle_cores"] = round(2 / per_pair, 0) if per_pair else None
    return out


def around_kill(stats, tracker: Tracker, warm_until: float) -> dict:
    """Errors and latencies before the kill, in the 2 s after it, and after that."""
    k = tracker.killed_at
    phases = {"before": (warm_until, k), "first_2s_after": (k, k + 2.0), "later": (k + 2.0, float("inf"))}
    out: dict = {"at_s": round(k - warm_until, 1), "in_flight_at_kill": tracker.in_flight_at_kill}
    for name, (lo, hi) in phases.items():
        ms = [m for t, m in stats["ended"] if lo <= t < hi]
        out[name] = {"requests": len(ms), "errors": sum(lo <= t < hi for t in stats["error_at"]),
                     "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
                     "max_ms": round(max(ms), 1) if ms else None}
    return out


def start_haproxy(backends: list[str], port: int, stats_port: int) -> subprocess.Popen:
    """Debian's haproxy with examples/haproxy.cfg, in the foreground, on loopback ports."""
    env = {**os.environ, "EXAMFORGE_LB_BIND": f"127.0.0.1:{port}", "EXAMFORGE_LB_STATS": f"127.0.0.1:{stats_port}"}
    for k, backend in enumerate(backends, 1):
        env[f"EXAMFORGE_BACKEND_{k}"] = backend
    return subprocess.Popen(["haproxy", "-db", "-f", str(ROOT / "examples" / "haproxy.cfg")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def haproxy_servers(stats_port: int) -> dict[str, dict[str, str]]:
    """Each backend server's row of HAProxy's CSV status page: status (UP, DOWN, ...), hrsp_2xx
    (answers), wretr (retries), wredis (redispatches), ..."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=5) as r:
        rows = r.read().decode().splitlines()
    names = rows[0].lstrip("# ").split(",")
    out = {}
    for row in rows[1:]:
        cells = dict(zip(names, row.split(",")))
        if cells.get("pxname") == "examforge" and cells.get("svname") not in ("BACKEND", "FRONTEND"):
            out[cells["svname"]] = cells
    return out


async def wait_all_up(stats_port: int, n: int, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            states = haproxy_servers(stats_port)
            if len(states) == n and all(s["status"].startswith("UP") for s in states.values()):
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise SystemExit("haproxy's backends did not come up")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL to the process and its workers (it was started in a session of its own)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default 2: one per core; with --haproxy, 1 per backend)")
    parser.add_argument("--url", help="use a running server (or load balancer) instead of starting one")
    parser.add_argument("--haproxy", action="store_true",
                        help="start two backends (--workers each, default 1) behind haproxy (examples/haproxy.cfg)")
    parser.add_argument("--kill-at", type=float, default=None, metavar="SECONDS",
                        help="with --haproxy: SIGKILL the first backend this many seconds into the measured run")
    parser.add_argument("--seed", type=int, default=0, help="the clients' choice of types")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.kill_at is not None and not args.haproxy:
        parser.error("--kill-at needs --haproxy")
    args.workers = args.workers or (1 if args.haproxy else 2)

    proc = None
    started: list[subprocess.Popen] = []
    url = args.url
    run_args: dict = {}
    if args.haproxy:
        backends = [start_server(args.workers) for _ in range(2)]
        started += [p for p, _ in backends]
        port, stats_port = free_port(), free_port()
        started.append(start_haproxy([u.removeprefix("http://") for _, u in backends], port, stats_port))
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_all_up(stats_port, len(backends)))
        run_args = {"settle": started[:-1], "kill": lambda: kill_group(backends[0][0]), "kill_at": args.kill_at}
    elif url is None:
        proc, url = start_server(args.workers)
        started.append(proc)
    load_before = os.getloadavg()
    try:
        result = asyncio.run(run(url, args.clients, args.duration, args.warmup, args.seed, proc, args.workers,
                                 **run_args))
        if args.haproxy:
            result["haproxy"] = {name: {"status": c["status"], "answers_2xx": int(c["hrsp_2xx"] or 0),
                                        "retries": int(c["wretr"] or 0), "redispatches": int(c["wredis"] or 0)}
                                 for name, c in haproxy_servers(stats_port).items()}
    finally:
        for p in started:
            stop(p)
    if args.haproxy:
        result["setup"] = f"2 backends x {args.workers} workers behind haproxy" + (
            f", backend 1 killed (SIGKILL) at {args.kill_at:g} s" if args.kill_at is not None else "")
    result.update(workers=None if args.url else args.workers, cpus=os.cpu_count(),
                  loadavg_before=[round(x, 2) for x in load_before],
                  loadavg_after=[round(x, 2) for x in os.getloadavg()])
    ok = (result["variant_ms"][95] < TARGET_P95_MS and result["check_ms"][95] < TARGET_P95_MS
          and result["variants_per_s"] > TARGET_VARIANTS_PER_S and result["errors"] == 0)
    result["targets_met"] = ok
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        v, c = result["variant_ms"], result["check_ms"]
        print(f"drill API, {result['clients']} clients, {result['duration_s']} s, {result['types']} types, "
              f"{result['workers'] or 'external'} server workers, {result['cpus']} CPUs "
              f"(load {result['loadavg_before'][0]} -> {result['loadavg_after'][0]})")
        print(f"  new variant: p50 {v[50]} ms  p95 {v[95]} ms  p99 {v[99]} ms   {result['variants_per_s']} variants/s")
        print(f"  check:       p50 {c[50]} ms  p95 {c[95]} ms  p99 {c[99]} ms   {result['checks_per_s']} checks/s")
        print(f"  slowest types (p50 ms): {result['slowest_types_p50_ms']}")
        print(f"  errors: {result['errors']} {result['error_samples']}; "
              f"connections closed by the server (clients reconnected): {result['reconnects']}")
        if "setup" in result:
            print(f"  {result['setup']}; haproxy's servers: {result['haproxy']}")
        if "kill" in result:
            k = result["kill"]
            print(f"  kill at {k['at_s']} s with {k['in_flight_at_kill']} requests in flight:")
            for name in ("before", "first_2s_after", "later"):
                p = k[name]
                print(f"    {name:15} {p['requests']:6} requests, {p['errors']} errors, p50 {p['p50_ms']} ms, "
                      f"p95 {p['p95_ms']} ms, max {p['max_ms']} ms")
        if "server_cpu_ms_per_pair" in result:
            print(f"  server CPU: {result['server_cpu_ms_per_pair']} ms per variant+check, "
                  f"{result['server_cpu_share_cores']} cores used on average "
                  f"(per process: {', '.join(map(str, result['server_cores_per_process']))}) -> about "
                  f"{result['projected_variants_per_s_on_2_idle_cores']:.0f} variants/s on 2 idle cores")
        print(f"  targets (p95 < {TARGET_P95_MS:g} ms, > {TARGET_VARIANTS_PER_S:g} variants/s): "
              f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
