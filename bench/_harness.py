"""What the benchmarks run on: subprocesses, their memory, a keep-alive HTTP client and percentiles.

Memory is read from /proc (VmRSS of a process and, through /proc/<pid>/task/*/children, of all
its descendants), so psutil is not needed.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookies
import json
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# --- processes ----------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children of all its threads), depth first."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out.extend(descendants(int(child)))
    return out


def rss_bytes(pid: int) -> int:
    """The process's proportional set size (PSS): its private pages plus its share of pages shared
    with others. Forked processes (web workers, the import's validating process) share most of
    their parent's pages; summing their VmRSS would count those pages once per process."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        except OSError:
            continue
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, with that of its children it has reaped: a
    job's forked process that ends does not take its CPU time out of the tree's total."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_idle(roots: Sequence[int], *, window: float = 2.0, threshold: float = 0.1, timeout: float = 600) -> float:
    """Wait until the process trees use less than ``threshold`` CPU seconds in ``window`` seconds
    (follow-up tasks of a job have finished); return the seconds waited."""
    started = time.monotonic()

    def total() -> float:
        return sum(cpu_seconds(pid) for root in roots for pid in descendants(root))

    before = total()
    while time.monotonic() - started < timeout:
        time.sleep(window)
        now = total()
        if now - before < threshold:
            break
        before = now
    return time.monotonic() - started


def tree_rss(roots: Sequence[int]) -> int:
    """Summed resident memory (PSS, see ``rss_bytes``) of ``roots`` and all their descendants."""
    seen: set[int] = set()
    for root in roots:
        seen.update(descendants(root))
    return sum(rss_bytes(pid) for pid in seen)


class RssSampler(threading.Thread):
    """Samples the summed RSS of some process trees every ``interval`` seconds; ``peak`` since ``reset``."""

    def __init__(self, roots: Sequence[int], interval: float = 0.1):
        super().__init__(daemon=True)
        self.roots = list(roots)
        self.interval = interval
        self.peak = 0
        self.peak_by_root: dict[int, int] = dict.fromkeys(self.roots, 0)
        self.samples = 0
        self._stop_event = threading.Event()

    def reset(self) -> None:
        self.peak = 0
        self.peak_by_root = dict.fromkeys(self.roots, 0)
        self.samples = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            values = {root: tree_rss([root]) for root in self.roots}
            self.peak = max(self.peak, sum(values.values()))
            for root, value in values.items():
                self.peak_by_root[root] = max(self.peak_by_root.get(root, 0), value)
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


class Service:
    """A long-running subprocess (web server, worker) with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        # Its own session, so a Ctrl+C of the benchmark reaches it only through stop().
        self.proc = subprocess.Popen(  # noqa: S603
            argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process we started (gunicorn and the worker stop their own children), then wait."""
        if self.alive():
            family = descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for pid in reversed(family):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


# --- HTTP ---------------------------------------------------------------------------------------------


class Client:
    """Keep-alive HTTP/1.1 client at concurrency 1; reconnects (and counts it) when the server closes."""

    def __init__(self, port: int, token: str | None = None, host: str = "127.0.0.1", timeout: float = 120):
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
                response = conn.getresponse()
                data = response.read()
            except (
                http.client.RemoteDisconnected,
                ConnectionResetError,
                BrokenPipeError,
                http.client.CannotSendRequest,
            ):
                # The worker closed a kept-alive connection (e.g. gunicorn recycled it): retry once.
                self.close()
                self.reconnects += 1
                if attempt == 2 or (body is not None and not isinstance(body, bytes | str)):
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def request_cookies(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request, and the cookies its answer sets (name -> value)."""
        conn = self._connection()
        conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        jar = http.cookies.SimpleCookie()
        for header in response.msg.get_all("Set-Cookie") or []:
            jar.load(header)
        return response.status, data, {name: morsel.value for name, morsel in jar.items()}

    def get_json(self, path: str) -> tuple[int, Any]:
        status, data = self.request("GET", path)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode(errors="replace")[:500]

    def upload(self, path: str, fields: dict[str, str], file_field: str, file_path: Path) -> tuple[int, Any]:
        """POST multipart/form-data, streaming the file from disk."""
        boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_path.name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head) + file_path.stat().st_size + len(tail)

        def body() -> Iterator[bytes]:
            yield head
            with file_path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
            yield tail

        self.close()  # a fresh connection: a streamed body cannot be retried
        status, data = self.request(
            "POST",
            path,
            body=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(size)},
        )
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data.decode(errors="replace")[:500]


def browser_client(port: int, email: str, password: str) -> Client:
    """A client signed in through the login form, as a browser is: its session cookie on every request.

    The UI pages are what people open; they run the session, the menus and the templates on top of
    the same queries as the API.
    """
    client = Client(port)
    client.headers["Accept"] = "text/html"
    status, page, cookies = client.request_cookies("GET", "/login/")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or match is None or "csrftoken" not in cookies:
        raise RuntimeError(f"GET /login/ answered {status} without a CSRF token")
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": match.group(1).decode(), "username": email, "password": password}
    )
    status, _page, more = client.request_cookies(
        "POST",
        "/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken']}",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
    )
    if status != 302 or "sessionid" not in more:
        raise RuntimeError(f"POST /login/ answered {status} without a session (2FA required?)")
    client.headers["Cookie"] = f"sessionid={more['sessionid']}; csrftoken={cookies['csrftoken']}"
    return client


def wait_for_http(port: int, path: str, service: Service, timeout: float = 90) -> None:
    """Until ``path`` answers at all (any status): the server has booted and loaded the app."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
        if port_answers("127.0.0.1", port):
            try:
                Client(port, timeout=10).request("GET", path)
                return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not answer on port {port} within {timeout:.0f} s:\n{service.tail()}")


# --- statistics ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 500 samples is the 495th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class Timing:
    """Latencies of one metric, in milliseconds, and what went wrong."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self.errors: dict[int, int] = {}
        self.empty = 0  # answers without any item (a search that found nothing)
        self.example_error = ""
        self.truncated = False  # stopped early: the time budget of the metric ran out

    @property
    def p50(self) -> float:
        return percentile(self.ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.ms, 99)


def measure(
    client: Client,
    paths: Sequence[str],
    requests: int,
    *,
    warmup: int = 20,
    count_items: bool = False,
    budget: float | None = None,
) -> Timing:
    """GET ``paths`` in turn (cycling), ``warmup`` untimed then ``requests`` timed, one at a time.

    With a ``budget`` (seconds, warm-up included) a slow endpoint stops early, after at least 10
    timed requests, so one slow metric cannot stretch the whole run; the timing says so.
    """
    timing = Timing()
    started = time.monotonic()
    for i in range(min(warmup, requests)):
        if budget is not None and i >= 3 and time.monotonic() - started > budget / 4:
            break
        client.request("GET", paths[i % len(paths)])
    for i in range(requests):
        if budget is not None and i >= 10 and time.monotonic() - started > budget:
            timing.truncated = True
            break
        path = paths[i % len(paths)]
        sent = time.perf_counter()  # not ``started``: the budget counts from the first request
        status, data = client.request("GET", path)
        elapsed = (time.perf_counter() - sent) * 1000
        if status != 200:
            timing.errors[status] = timing.errors.get(status, 0) + 1
            timing.example_error = timing.example_error or f"{path} -> {status} {data[:300]!r}"
            continue
        timing.ms.append(elapsed)
        if count_items:
            try:
                if not json.loads(data).get("items"):
                    timing.empty += 1
            except (ValueError, AttributeError):
                timing.empty += 1
    return timing


# --- the machine ---------------------------------------------------------------------------------------


def cpu_times() -> tuple[int, int]:
    """(stolen, total) CPU time in clock ticks since boot, from /proc/stat (Linux; zeros elsewhere).

    "Steal" is time a virtual CPU was ready to run but the hypervisor ran something else: on a shared
    host the same code then takes longer, and every latency here with it."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(f) for f in fields[:8]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


def loop_ms(rounds: int = 3) -> float:
    """Milliseconds of a fixed pure-Python loop (the best of ``rounds``): one core's speed, to compare
    runs made on different days."""
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000
