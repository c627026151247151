"""Settings for pytest: the normal settings with GUANXI_TESTING on (adds tests.testapp, fast hashing,
in-process tasks). pytest-django imports this before any conftest runs, so a bare `pytest` works."""

import os

os.environ.setdefault("GUANXI_TESTING", "1")

from guanxi.settings import *  # noqa: E402,F403

# Tests assert the English source messages; tests of the Chinese UI ask for zh-hans explicitly.
LANGUAGE_CODE = "en"
