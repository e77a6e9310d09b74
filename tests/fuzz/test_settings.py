"""The settings loader on mutated copies of our own config.toml and odd MONITOR_* variables:
a Settings or a ConfigError, nothing else (tested through the public load_settings only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.config import Settings, load_settings
from monitor.core.errors import ConfigError
from tests.fuzz.test_parsers import byte_mutation

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "config.toml").read_bytes()
ENV_KEYS = ["MONITOR_DATABASE_URL", "MONITOR_WEB__PORT", "MONITOR_WEB__TRUSTED_PROXIES", "MONITOR_SMTP__TIMEOUT_S",
            "MONITOR_DIGEST__RECIPIENTS", "MONITOR_DIGEST__DAYS", "MONITOR_WEB__SESSION_SECRET", "MONITOR_X__Y",
            "MONITOR_TIMEZONE", "MONITOR_SCHEDULER__ENABLED", "MONITOR_SOURCES", "MONITOR_HTTP__MAX_RESPONSE_BYTES",
            "MONITOR_WEB", "MONITOR_", "MONITOR_WEB__PORT__X"]
ENV_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30),
    st.sampled_from(["[]", "[1]", '["a@b.kz"]', "{}", "null", "NaN", "1e999", "-1", "9" * 400, "true", '"x"',
                     "[" * 50, "10.0.0.0/8", '["10.0.0.1", "nope"]', "Mars/Olympus", "0"]),
)


def _load(body: bytes, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_bytes(body)
        with mock.patch.dict(os.environ, env, clear=True):
            try:
                result = load_settings(path)
            except ConfigError as e:
                assert str(e)
                return
    assert isinstance(result, Settings)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_mutated_config_file_loads_or_says_why(data: st.DataObject) -> None:
    _load(data.draw(byte_mutation(CONFIG)), {})


@settings(max_examples=50, deadline=None)
@given(env=st.dictionaries(st.sampled_from(ENV_KEYS), ENV_VALUES, max_size=4))
def test_odd_environment_loads_or_says_why(env: dict[str, str]) -> None:
    _load(CONFIG, env)
