"""Browser journeys: a real Guanxi server in a subprocess, driven by Debian's Chromium through Playwright.

Run them from the repository root with ``pytest -m e2e tests/e2e`` (the main suite runs ``-m "not e2e"``).

What this harness gives a test:

- ``guanxi_server``: a ``runserver`` process (``GUANXI_TESTING=1``, DEBUG on, SQLite in a fresh temp
  ``GUANXI_DATA_DIR``), migrated, answering on a free port of 127.0.0.1; stopped at the end of the session.
  Its log is copied to ``test-artifacts/e2e/server.log``.
- ``accounts``: seeded superusers with a confirmed TOTP device whose key is known, by role
  (``accounts["admin"]``, ``["phone"]``, ``["owner"]``), one account per role for the whole test, whose
  current code no other journey used; ``Account.totp()`` gives the current code.
- ``page`` / ``make_page``: a Chromium page (desktop 1280x800 by default, English browser locale);
  every console error, uncaught JS error and CSP violation is collected and fails the test.
- ``shot``: ``shot("step-name")`` saves ``test-artifacts/e2e/<test name>/NN-step-name.png`` (kept even when
  the test passes) and fails the test at that step if the browser reported an error so far.

Environment knobs: ``GUANXI_E2E_CHROMIUM`` (browser binary, default ``/usr/bin/chromium``),
``GUANXI_E2E_HEADED=1`` (show the window), ``GUANXI_E2E_SLOWMO`` (milliseconds between actions).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("GUANXI_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
ACTION_TIMEOUT_MS = 10_000
SERVER_START_TIMEOUT_S = 60

# Environment variables of the caller that must not leak into the server under test: it gets its own
# SQLite database, local-memory cache and in-process tasks.
_SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "GUANXI_PRODUCTION", "GUANXI_REQUIRE_2FA", "DJANGO_SETTINGS_MODULE")


# --- marking ----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    # Keep each phase's report on the item so fixtures can tell whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py <args>`` against the server's database; raise with its output on failure."""
        result = subprocess.run(  # noqa: S603
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args[:1])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def shell(self, code: str) -> str:
        """Run Python code inside Django (``manage.py shell -c``) and return what it printed."""
        return self.manage("shell", "-c", code).stdout

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    probe = server.url + "/api/v1/openapi.json"
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(probe, timeout=2):  # noqa: S310 - our own loopback server
                return
        except urllib.error.HTTPError:
            return  # it answered (401/404 still means it is serving)
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"the server did not answer on {probe} within {SERVER_START_TIMEOUT_S}s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def guanxi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("guanxi-e2e-data")
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(
        GUANXI_TESTING="1",
        GUANXI_DEBUG="1",
        GUANXI_DATA_DIR=str(data_dir),
        GUANXI_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # Plenty of room: a journey's wrong guess must not lock the account for the next one.
        GUANXI_LOGIN_MAX_FAILURES="50",
    )
    port = _free_port()
    server = LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data_dir, env=env, log_path=data_dir / "server.log")
    server.manage("migrate", "--noinput", timeout=300)
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(  # noqa: S603
            [sys.executable, str(REPO_ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(server)
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copyfile(server.log_path, ARTIFACTS / "server.log")


# --- seeded accounts --------------------------------------------------------------------------


@dataclass
class Account:
    email: str
    password: str
    display_name: str
    totp_key: str  # hex, as stored on django_otp's TOTPDevice
    _last_step: int = field(default=-1, repr=False)

    def code_used_now(self) -> bool:
        """Whether this account already signed in with the code of the current 30 s step."""
        from django_otp.oath import TOTP

        return TOTP(bytes.fromhex(self.totp_key)).t() <= self._last_step

    def totp(self) -> str:
        """The current six-digit code. A code is accepted once per 30 s step, so wait for a fresh step
        if this account already used the current one (``Accounts`` hands a journey an account that has
        not, so only a journey signing one account in twice waits)."""
        from django_otp.oath import TOTP

        totp = TOTP(bytes.fromhex(self.totp_key))
        if totp.t() <= self._last_step:
            time.sleep(30 - (time.time() % 30) + 0.5)
        # Don't hand out a code that expires while it is being typed.
        if 30 - (time.time() % 30) < 2:
            time.sleep(2.5)
        self._last_step = totp.t()
        return f"{totp.token():0{totp.digits}d}"


_SEED = """
from django_otp.plugins.otp_totp.models import TOTPDevice
from guanxi.identity.models import Team, User
for email, password, name, key in {accounts!r}:
    user = User.objects.create_superuser(email, password, display_name=name, language="en")
    TOTPDevice.objects.create(user=user, name="e2e authenticator", key=key, confirmed=True)
if {team!r} and not Team.objects.filter(name={team!r}[0]).exists():
    Team.objects.create(name={team!r}[0], territory={team!r}[1])
print("seeded", User.objects.count())
"""
# A team that is there from the start, so a list has a row on a journey that adds none.
SEEDED_TEAM = ("华南销售部", "广东省深圳市南山区科技园")
# The first account of each role; "owner" is one whose home page no other journey opens (the home
# card is cached for a minute).
_ROLES = {
    "admin": Account("e2e@example.com", "E2e-Passw0rd-关系", "E2E Admin", ""),
    "phone": Account("e2e-phone@example.com", "E2e-Passw0rd-手机", "E2E Phone", ""),
    "owner": Account("e2e-owner@example.com", "E2e-Passw0rd-客户", "E2E Owner", ""),
}


class AccountPool:
    """Superusers with a confirmed TOTP device, by role. A code is accepted once per 30 s step, so a
    journey that signs in right after another journey signed the same account in would wait up to
    30 s (that was two of the journeys' three minutes): the pool hands out an account of the role
    whose current code is unused, and seeds another one of the role when none is."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.by_role: dict[str, list[Account]] = {role: [] for role in _ROLES}
        self._seed([(role, _ROLES[role].email) for role in _ROLES], team=SEEDED_TEAM)

    def _seed(self, wanted: list[tuple[str, str]], team: tuple[str, str] | tuple[()] = ()) -> None:
        made = []
        for role, email in wanted:
            first = _ROLES[role]
            account = Account(email, first.password, first.display_name, secrets.token_hex(20))
            self.by_role[role].append(account)
            made.append(account)
        rows = [(a.email, a.password, a.display_name, a.totp_key) for a in made]
        self.server.shell(_SEED.format(accounts=rows, team=team))

    def first(self, role: str) -> Account:
        """The role's first account, for seeding data that names a user (not for signing in)."""
        return self.by_role[role][0]

    def take(self, role: str) -> Account:
        free = next((a for a in self.by_role[role] if not a.code_used_now()), None)
        if free is None:
            local, domain = _ROLES[role].email.split("@")
            self._seed([(role, f"{local}-{len(self.by_role[role]) + 1}@{domain}")])
            free = self.by_role[role][-1]
        return free


class Accounts:
    """One journey's accounts: ``accounts["admin"]`` is the same account for the whole test."""

    def __init__(self, pool: AccountPool):
        self._pool = pool
        self._taken: dict[str, Account] = {}

    def __getitem__(self, role: str) -> Account:
        if role not in self._taken:
            self._taken[role] = self._pool.take(role)
        return self._taken[role]


@pytest.fixture(scope="session")
def account_pool(guanxi_server: LiveServer) -> AccountPool:
    return AccountPool(guanxi_server)


@pytest.fixture
def accounts(account_pool: AccountPool) -> Accounts:
    return Accounts(account_pool)


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium fonts-noto-cjk")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=os.environ.get("GUANXI_E2E_HEADED") != "1",
            args=CHROMIUM_ARGS,
            slow_mo=float(os.environ.get("GUANXI_E2E_SLOWMO", "0")),
        )
        try:
            yield browser
        finally:
            browser.close()


# Reports CSP violations to the console, where the collector below sees them even if the browser's
# own message changes wording.
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')
    + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


@dataclass
class BrowserErrors:
    """Console errors, uncaught exceptions and CSP violations seen by every page of one test."""

    errors: list[str] = field(default_factory=list)
    # The browser asks for /favicon.ico on its own (e.g. on a JSON page); its 404 is no page's fault.
    # A request htmx had in flight when the page left (a form's check as its Save is clicked) is
    # aborted by the browser, and htmx logs "htmx:sendAbort" with its "htmx:afterRequest": nobody
    # waits for that answer. A request that fails is still caught by its own event (responseError,
    # sendError, timeout).
    allowed: list[re.Pattern[str]] = field(
        default_factory=lambda: [
            re.compile(r"/favicon\.ico: Failed to load"),
            re.compile(r"htmx\.min\.js: htmx:(sendAbort|afterRequest), "),
        ]
    )

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching ``pattern`` (regex) for the rest of the test."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"[js error] {page.url}: {exc}"))

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        location = message.location or {}
        where = location.get("url", "")
        self.errors.append(f"[console.error] {where}: {text}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def check(self, step: str = "") -> None:
        found = self.unexpected()
        if found:
            csp = [e for e in found if "Content Security Policy" in e or "CSP violation" in e]
            kind = "CSP violations" if csp else "browser errors"
            pytest.fail(f"{kind}{' by step ' + step if step else ''}:\n  " + "\n  ".join(found), pytrace=False)


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


def _artifact_dir(node: pytest.Item) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")
    return ARTIFACTS / name


class Shots:
    """Numbered full-page screenshots of one test: ``shot("login")`` -> ``01-login.png``."""

    def __init__(self, directory: Path, errors: BrowserErrors, default_page: Callable[[], Any]):
        self.directory = directory
        self.errors = errors
        self._default_page = default_page
        self.count = 0
        self.paths: list[Path] = []
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str, page: Any = None, *, check: bool = True, full_page: bool = True) -> Path:
        page = page or self._default_page()
        self.count += 1
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", step).strip("-").lower() or "step"
        path = self.directory / f"{self.count:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.paths.append(path)
        if check:
            self.errors.check(step)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest, browser_errors: BrowserErrors) -> Shots:
    return Shots(_artifact_dir(request.node), browser_errors, lambda: request.getfixturevalue("page"))


@pytest.fixture
def make_page(
    browser: Any,
    guanxi_server: LiveServer,
    browser_errors: BrowserErrors,
    shot: Shots,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Any]]:
    """``make_page(viewport=PHONE, is_mobile=True)`` opens a fresh browser context (own cookies) and page.
    When the test fails, each page it opened is photographed as it was (``NN-failure.png``)."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        options.setdefault("locale", "en-US")
        options.setdefault("timezone_id", "Asia/Shanghai")
        context = browser.new_context(base_url=guanxi_server.url, viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS * 2)
        context.add_init_script(_CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        browser_errors.watch(page)
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for page in pages:
            with contextlib.suppress(Exception):
                shot("failure", page, check=False, full_page=False)
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()
    # A test that otherwise passed still fails on a JS error or CSP violation seen after its last shot.
    if report is not None and report.passed:
        browser_errors.check("(end of test)")


@pytest.fixture
def page(make_page: Callable[..., Any]) -> Any:
    return make_page()
