"""Serving a course with real processes on loopback ports: `examforge serve` stops gracefully on
SIGTERM (requests in flight are answered, a stalled one cannot hold the shutdown), and two
`examforge serve` backends behind Debian's haproxy with examples/haproxy.cfg keep answering when
one backend is killed mid-run (the load comes from benchmarks/drill_latency.py, bounded in time).
In CI a missing haproxy is a failure, not a skip: `make test` installs it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from examforge.drill import answers, server
from examforge.drill.exercise import exercise

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("drill_latency", ROOT / "benchmarks" / "drill_latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def _check_request(ex, answer) -> tuple[bytes, bytes]:
    """A POST /api/check for `ex`, split into (head and first half of the body, the rest)."""
    body = json.dumps({"type": ex.qtype.id, "seed": ex.seed, "difficulty": ex.difficulty, "form": ex.form,
                       "answer": answer}).encode()
    head = (f"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    half = len(body) // 2
    return head + body[:half], body[half:]


def _read_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def test_sigterm_lets_requests_in_flight_finish():
    """`examforge serve --workers 2` (what a container runs) gets SIGTERM while three checks are
    half-sent, a keep-alive connection is idle and a fourth check has stalled. The three finish
    and are answered (then their connections close); the idle connection is closed; the stalled
    one gets its 408 after the body timeout instead of holding the shutdown; the server exits 0."""
    proc, url = bench.start_server(2)
    port = int(url.rsplit(":", 1)[1])
    socks: list[socket.socket] = []
    try:
        asyncio.run(bench.wait_ready("127.0.0.1", port))
        asyncio.run(bench.wait_settled(proc, 2))  # both workers warmed up and idle
        exes = [exercise("conv.output_shape", seed, "medium", "free") for seed in (1, 2, 3)]
        rests = []
        for ex in exes:
            first, rest = _check_request(ex, answers.show(ex.expected))
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(first)
            socks.append(sock)
            rests.append(rest)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b'"ready":true' in idle.recv(65536)  # answered; the connection stays open
        stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled.sendall(_check_request(exes[0], "1 x 1")[0])  # the rest never comes
        time.sleep(0.5)  # the heads have been read: these requests are in the app

        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # the supervisor passes SIGTERM on to its workers within 0.5 s
        assert proc.poll() is None, "the server must wait for the requests in flight"
        assert _read_all(idle, 5) == b"", "an idle keep-alive connection is closed at shutdown"
        for sock, rest, ex in zip(socks, rests, exes):
            sock.sendall(rest)
        for sock, ex in zip(socks, exes):
            reply = _read_all(sock, 10)
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), reply[:300]
            assert b"connection: close" in head.lower()  # the connection ends after this answer
            assert json.loads(body)["correct"] is True and json.loads(body)["seed"] == ex.seed
        reply = _read_all(stalled, server.BODY_TIMEOUT + server.LINGER_SECONDS + 10)
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:300]
        code = proc.wait(timeout=server.BODY_TIMEOUT + server.LINGER_SECONDS + 20)
        took = time.monotonic() - sent_at
        assert code == 0, proc.stderr.read().decode()[-2000:]
        assert took < server.BODY_TIMEOUT + server.LINGER_SECONDS + 10, took
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        for sock in socks:
            sock.close()
        bench.stop(proc)


# -- two backends behind haproxy -----------------------------------------------------------------------------


@pytest.fixture
def balanced():
    if shutil.which("haproxy") is None:
        message = "haproxy is missing (Debian package 'haproxy'; 'make test' installs it with scripts/ensure-haproxy.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    backends = [bench.start_server(1) for _ in range(2)]
    port, stats_port = bench.free_port(), bench.free_port()
    lb = bench.start_haproxy([u.removeprefix("http://") for _, u in backends], port, stats_port)
    try:
        try:
            asyncio.run(bench.wait_all_up(stats_port, 2, timeout=240))
        except SystemExit:
            pytest.fail(f"haproxy's backends did not come up: {lb.stderr.read1(4000) if lb.poll() else ''}")
        yield [p for p, _ in backends], f"http://127.0.0.1:{port}", stats_port
    finally:
        for p in [lb, *(p for p, _ in backends)]:
            bench.stop(p)


def test_haproxy_keeps_answering_when_a_backend_is_killed(balanced):
    """8 clients for 6 s through haproxy (each a new variant and a check per round); 2.5 s in,
    backend 1 and its workers get SIGKILL. Clients see no more errors than the requests that were
    in flight (haproxy sends them again to backend 2: retry-on), none after the first 2 s; haproxy
    marks backend 1 DOWN, and backend 2 answers the rest."""
    (first, second), url, stats_port = balanced
    result = asyncio.run(bench.run(url, 8, 6.0, 1.0, 0, None, 1, settle=[first, second],
                                   kill=lambda: bench.kill_group(first), kill_at=2.5))
    kill = result["kill"]
    servers = bench.haproxy_servers(stats_port)
    print(json.dumps({"kill": kill, "errors": result["errors"], "samples": result["error_samples"],
                      "haproxy": {k: {f: v[f] for f in ("status", "hrsp_2xx", "wretr", "wredis")}
                                  for k, v in servers.items()}}))
    assert first.poll() is not None, "backend 1 was killed"
    assert kill["before"]["errors"] == 0 and kill["before"]["requests"] > 20, kill
    assert result["errors"] <= kill["in_flight_at_kill"], (result["errors"], result["error_samples"])
    assert kill["later"]["errors"] == 0 and kill["later"]["requests"] > 20, kill
    assert servers["drill1"]["status"].startswith("DOWN"), servers["drill1"]
    assert servers["drill2"]["status"].startswith("UP"), servers["drill2"]
    assert int(servers["drill1"]["hrsp_2xx"]) > 10, "backend 1 answered before it was killed"
    assert int(servers["drill2"]["hrsp_2xx"]) > kill["later"]["requests"], "backend 2 answered the rest"
