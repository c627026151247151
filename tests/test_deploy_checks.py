"""Production settings: `check --deploy` is silent, and `guanxi serve --production` refuses unsafe ones.

These run Django in a subprocess because the settings module reads the environment once, at import.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QUIET = "System check identified no issues (0 silenced)."


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        # A fresh SQLite database in tmp_path: the test database of the suite is not for these processes.
        if not k.startswith(("GUANXI_", "DJANGO_")) and k not in {"SECRET_KEY", "REDIS_URL", "DATABASE_URL"}
    }
    base["GUANXI_DATA_DIR"] = str(tmp_path)
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(**extra: str) -> dict[str, str]:
    return {
        "GUANXI_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "GUANXI_ALLOWED_HOSTS": "crm.example.com",
        **extra,
    }


def test_check_deploy_is_silent_in_production(tmp_path: Path) -> None:
    result = run(["manage.py", "check", "--deploy"], tmp_path, **production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == QUIET, result.stdout
    assert "WARNING" not in result.stderr and "security.W" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GUANXI_DEBUG": "1"}, "guanxi.E001"),
        ({"SECRET_KEY": "short"}, "guanxi.E002"),
        ({"GUANXI_ALLOWED_HOSTS": "*"}, "guanxi.E003"),
        ({"GUANXI_SITE_URL": "crm.example.com"}, "guanxi.E004"),
        ({"GUANXI_SITE_URL": "ftp://crm.example.com"}, "guanxi.E004"),
    ],
)
def test_guanxi_check_refuses_unsafe_production_settings(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    result = run(["-m", "guanxi.cli", "check"], tmp_path, **production_env(**env))
    assert result.returncode != 0
    assert expected in result.stderr


def test_the_site_url_defaults_to_the_allowed_host_in_production(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.GUANXI_SITE_URL)"
    result = run(["manage.py", "shell", "-c", code], tmp_path, **production_env())
    assert result.stdout.strip().splitlines()[-1] == "https://crm.example.com", result.stderr
    given = run(
        ["manage.py", "shell", "-c", code],
        tmp_path,
        **production_env(GUANXI_SITE_URL="https://crm.example.com/guanxi/"),
    )
    assert given.stdout.strip().splitlines()[-1] == "https://crm.example.com/guanxi", given.stderr
    # No host to take it from (a wildcard of subdomains): a warning says what to set.
    result = run(["manage.py", "check"], tmp_path, **production_env(GUANXI_ALLOWED_HOSTS=".example.com"))
    assert result.returncode == 0 and "guanxi.W001" in result.stderr, result.stderr


def test_unsafe_checks_are_silent_outside_production(tmp_path: Path) -> None:
    result = run(["-m", "guanxi.cli", "check"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == QUIET


def test_serve_production_refuses_default_secret(tmp_path: Path) -> None:
    env = production_env()
    del env["SECRET_KEY"]
    result = run(["-m", "guanxi.cli", "serve", "--production", "--check-only"], tmp_path, **env)
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert "SECRET_KEY is the built-in development key" in result.stderr
    assert not (tmp_path / "static" / "staticfiles.json").exists()  # refused before collectstatic


def test_serve_production_refuses_debug(tmp_path: Path) -> None:
    result = run(
        ["-m", "guanxi.cli", "serve", "--production", "--check-only"], tmp_path, **production_env(GUANXI_DEBUG="1")
    )
    assert result.returncode != 0
    assert "DEBUG is on in production mode" in result.stderr


def test_serve_production_starts_with_safe_settings(tmp_path: Path) -> None:
    """The full start-up path short of gunicorn: checks, migrations notice, collectstatic (manifest)."""
    result = run(["-m", "guanxi.cli", "serve", "--production", "--check-only"], tmp_path, **production_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Start-up checks passed." in result.stdout
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_serve_without_debug_collects_the_static_files_too(tmp_path: Path) -> None:
    """Outside production with DEBUG off (what ``make bench`` serves) pages name files by the manifest
    too: without collectstatic, every page answered 500 (no manifest entry for favicon.svg)."""
    result = run(["-m", "guanxi.cli", "serve", "--check-only"], tmp_path, GUANXI_DEBUG="0")
    assert result.returncode == 0, result.stderr + result.stdout
    manifest = tmp_path / "static" / "staticfiles.json"
    assert manifest.exists() and '"favicon.svg"' in manifest.read_text()


def test_the_web_application_freezes_what_start_up_loaded(tmp_path: Path) -> None:
    """A full garbage collection must not walk the whole application (a ~60 ms pause at p99)."""
    code = (
        "import gc, guanxi.wsgi; from guanxi.api.crud import list_records; "
        "print(gc.get_freeze_count() > 50_000, any(o is list_records for o in gc.get_objects()))"
    )
    done = run(["-c", code], tmp_path, DJANGO_SETTINGS_MODULE="guanxi.settings")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"], "the views are loaded and frozen at start-up"


def test_start_up_builds_what_first_requests_would(tmp_path: Path) -> None:
    """``reverse`` tables of every language and the lazily imported modules are loaded by
    ``guanxi.wsgi`` itself, so that no worker pays for them in its first requests."""
    code = (
        "import sys, guanxi.wsgi; from django.urls import get_resolver; "
        "print(sorted(get_resolver()._reverse_dict), 'django.db.models.sql.compiler' in sys.modules)"
    )
    done = run(["-c", code], tmp_path, DJANGO_SETTINGS_MODULE="guanxi.settings")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['en', 'zh-hans'] True"


def test_serve_forks_workers_from_a_loaded_application() -> None:
    """gunicorn's preload: a worker that replaces a recycled one starts warm (not with --reload,
    which needs each worker to import the code itself)."""
    from guanxi.core.management.commands.serve import Command

    options = {"bind": "127.0.0.1:0", "workers": 2, "threads": 4, "timeout": 30, "reload": False}
    assert "--preload" in Command()._gunicorn_argv(options)
    assert "--preload" not in Command()._gunicorn_argv({**options, "reload": True})
