"""The customer tests' people and record builders (notifications are told of accounts and contacts),
and a real SMTP server process for the notification emails."""

from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.customers.conftest import (  # noqa: F401 - fixtures
    admin,
    api_for,
    english,
    make_account,
    make_contact,
    make_user,
    other_rep,
    rep,
    sales_role,
    team_east,
    team_south,
)


@dataclass
class SmtpServer:
    """A real SMTP server process (aiosmtpd) that files what it receives in a maildir."""

    port: int
    maildir: Path

    def messages(self) -> list[Message]:
        box = mailbox.Maildir(self.maildir, create=False)
        return [box.get_message(key) for key in sorted(box.keys(), key=_delivered)]

    def clear(self) -> None:
        box = mailbox.Maildir(self.maildir, create=False)
        box.clear()


def _delivered(key: str) -> tuple[int, int]:
    """A maildir key begins with the delivery time: "<seconds>.M<microseconds>P<pid>..."."""
    seconds, rest = key.split(".", 1)
    return int(seconds), int(rest[1:].split("P", 1)[0]) if rest.startswith("M") else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    maildir = tmp_path_factory.mktemp("smtp") / "maildir"
    mailbox.Maildir(maildir, create=True)  # cur/, new/, tmp/ (only made for a directory not there yet)
    port = _free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c"]
    process = subprocess.Popen([*command, "aiosmtpd.handlers.Mailbox", str(maildir)])
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the SMTP server did not start")
        yield SmtpServer(port, maildir)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def smtp(smtp_process: SmtpServer, settings: Any) -> SmtpServer:
    """Mail goes to the SMTP server process, which starts each test with an empty mailbox."""
    smtp_process.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_process.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.GUANXI_SITE_URL = "https://crm.example.com"
    return smtp_process
