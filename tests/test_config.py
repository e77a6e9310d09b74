"""Settings: one clear line for every mistake, environment overrides, secrets only from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.core.config import load_settings, mask_url
from monitor.core.errors import ConfigError


def _write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_loads():
    settings = load_settings("config.toml", {})
    assert settings.timezone == "Asia/Almaty" and settings.web.port == 8000
    assert settings.database.url.startswith("sqlite:///")


def test_defaults_and_frozen(tmp_path):
    settings = load_settings(_write(tmp_path, ""), {})
    assert settings.digest.time == "08:00" and settings.queue.lease_minutes == 15
    with pytest.raises(ValidationError):
        settings.web.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\nprot = 25\n", "config.toml: smtp.prot: unknown key"),
        ("[smpt]\nport = 25\n", "config.toml: smpt: unknown key"),
        ("[smtp]\nport = 'abc'\n", "config.toml: smtp.port: Input should be a valid integer"),
        ("[digest]\ntime = '8 am'\n", "config.toml: digest.time: expected a local time HH:MM"),
        ("[[sources]]\nname = 'x'\nplatform = 'telegram'\n", "config.toml: sources[x].target: missing value"),
        ("[[sources]]\nname='x'\nplatform='telegram'\ntarget='c'\ninterval='soon'\n",
         "config.toml: sources[x].interval: expected a duration"),
        ("[smtp]\npassword = 'hunter2'\n", "smtp.password: secrets are read only from the environment"),
        ("[smtp\nport = 1\n", "config.toml: invalid TOML"),
    ],
)
def test_mistakes_name_file_key_and_expectation(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), {})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        load_settings(tmp_path / "nope.toml", {})


def test_environment_overrides(tmp_path):
    path = _write(tmp_path, "[smtp]\nport = 25\n[[sources]]\nname='a'\nplatform='telegram'\ntarget='x'\n"
                            "interval='15m'\n")
    env = {
        "MONITOR_SMTP__PORT": "2525",
        "MONITOR_SMTP__PASSWORD": "s3cret",
        "MONITOR_DIGEST__RECIPIENTS": '["a@example.org", "b@example.org"]',
        "MONITOR_DATABASE_URL": "postgresql://u:pw@db/monitor",
        "MONITOR_VK_TOKEN": "vk",
        "MONITOR_SESSION_SECRET": "sess",
        "MONITOR_TEST_DATABASE_URL": "ignored",
    }
    s = load_settings(path, env)
    assert s.smtp.port == 2525 and s.smtp.password.get_secret_value() == "s3cret"
    assert s.digest.recipients == ("a@example.org", "b@example.org")
    assert s.database.url == "postgresql://u:pw@db/monitor"
    assert s.http.vk_token.get_secret_value() == "vk" and s.web.session_secret.get_secret_value() == "sess"
    assert s.sources[0].interval_s == 900


def test_bad_environment_override_names_the_variable(tmp_path):
    path = _write(tmp_path, "")
    with pytest.raises(ConfigError, match="environment variable MONITOR_SMTP__PORT: smtp.port"):
        load_settings(path, {"MONITOR_SMTP__PORT": "many"})
    with pytest.raises(ConfigError, match="smtp.prot: unknown key"):
        load_settings(path, {"MONITOR_SMTP__PROT": "1"})


def test_duplicate_source_names(tmp_path):
    one = "[[sources]]\nname='a'\nplatform='telegram'\ntarget='x'\n"
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(_write(tmp_path, one + one), {})


def test_mask_url():
    assert mask_url("postgresql://user:secret@host/db") == "postgresql://user:***@host/db"
    assert mask_url("sqlite:///data/monitor.db") == "sqlite:///data/monitor.db"
    # A password with "@" or ":" in it is hidden whole, and a URL that does not parse shows nothing of itself.
    assert mask_url("postgresql://user:p%40ss:w@host:5432/db") == "postgresql://user:***@host:5432/db"
    assert "secret" not in mask_url("postgresql://user:secret@[bad")


def test_base_url_follows_the_port_unless_set(tmp_path):
    moved = load_settings(_write(tmp_path, "[web]\nport = 8080\n"), {})
    assert moved.web.base_url == "http://127.0.0.1:8080"
    by_env = load_settings(_write(tmp_path, ""), {"MONITOR_WEB__PORT": "9000"})
    assert by_env.web.base_url == "http://127.0.0.1:9000"
    proxied = load_settings(_write(tmp_path, "[web]\nport = 8080\nbase_url = 'https://monitor.example.kz'\n"), {})
    assert proxied.web.base_url == "https://monitor.example.kz"


def test_a_section_replaced_by_a_list_is_a_clear_error(tmp_path):
    # Found by Hypothesis (tests/fuzz/test_settings.py): a secret for a section the environment made a list.
    with pytest.raises(ConfigError, match=r"MONITOR_WEB: \[web\] must be a table"):
        load_settings(_write(tmp_path, ""), {"MONITOR_WEB": "[]", "MONITOR_WEB__SESSION_SECRET": ""})
