"""Settings: defaults, validation, and how the CLI reports a bad value (one line, exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from anibridge.config import ConfigError, Settings, load_settings

BIN = Path(sys.executable).parent


def anibridge_cmd() -> list[str]:
    script = BIN / "anibridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "anibridge.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any AniBridge setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(extra)
    return env


def test_defaults() -> None:
    s = load_settings({})
    assert s.data_dir == Path("./data")
    assert s.download_dir == Path("./data/downloads")
    assert s.downloads_path == Path("data/downloads")
    assert s.anibridge_port == 8000
    assert s.anibridge_host == "0.0.0.0"
    assert s.journal_path == Path("data/journal.db")
    assert s.log_level == "INFO"
    assert s.sites == ["aniworld.to", "s.to", "megakino"]
    assert s.hosts[0] == "VOE"


def test_sto_defaults_to_serienstream_and_falls_back_only_among_its_public_names() -> None:
    s = load_settings({})
    assert s.base_url("s.to") == "https://serienstream.to"
    assert s.base_urls("s.to") == ["https://serienstream.to", "https://s.to", "https://serienstream.cx"]
    assert load_settings({"STO_BASE_URL": "https://s.to"}).base_urls("s.to")[:2] == [
        "https://s.to", "https://serienstream.to"]
    # a mirror of the user's own is never left for the public names
    assert load_settings({"STO_BASE_URL": "http://127.0.0.1:9/sto"}).base_urls("s.to") == ["http://127.0.0.1:9/sto"]
    explicit = load_settings({"STO_BASE_URL": "http://127.0.0.1:9/sto",
                              "STO_FALLBACK_BASE_URLS": "http://127.0.0.1:10/sto/, http://127.0.0.1:11/sto"})
    assert explicit.base_urls("s.to") == ["http://127.0.0.1:9/sto", "http://127.0.0.1:10/sto",
                                          "http://127.0.0.1:11/sto"]
    assert load_settings({}).base_urls("aniworld.to") == ["https://aniworld.to"]
    assert load_settings({"CATALOG_SITES": "serienstream.to,serienstream.cx"}).sites == ["s.to"]
    assert load_settings({}).provider_challenge_backoff_seconds == 300
    with pytest.raises(ConfigError, match="STO_FALLBACK_BASE_URLS"):
        load_settings({"STO_FALLBACK_BASE_URLS": "ftp://x"})


def test_download_dir_follows_data_dir_unless_set() -> None:
    assert load_settings({"DATA_DIR": "/srv/ab"}).download_dir == Path("/srv/ab/downloads")
    assert load_settings({"DATA_DIR": "/srv/ab", "DOWNLOAD_DIR": "/media"}).download_dir == Path("/media")


def test_names_are_case_insensitive_and_values_normalised() -> None:
    s = load_settings({"anibridge_port": "9000", "CATALOG_SITES": "aniworld, SerienStream ,sto",
                       "PROVIDER_ORDER": "voe,filemoon", "LOG_LEVEL": "debug",
                       "ANIWORLD_BASE_URL": "http://127.0.0.1:8081/"})
    assert s.anibridge_port == 9000
    assert s.sites == ["aniworld.to", "s.to"]
    assert s.hosts == ["VOE", "Filemoon"]
    assert s.log_level == "DEBUG"
    assert s.base_url("aniworld.to") == "http://127.0.0.1:8081"


def test_empty_value_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOWNLOAD_DIR", "")
    monkeypatch.setenv("ANIBRIDGE_PORT", "")
    s = load_settings()
    assert s.anibridge_port == 8000
    assert s.download_dir == s.data_dir / "downloads"


def test_explicit_env_is_not_mixed_with_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("ANIBRIDGE_PORT", "abc")
    assert load_settings({}).log_level == "INFO"
    assert load_settings({}).anibridge_port == 8000
    assert load_settings({"LOG_LEVEL": "error"}).log_level == "ERROR"


BAD = [
    ("ANIBRIDGE_PORT", "abc"),
    ("ANIBRIDGE_PORT", "70000"),
    ("CATALOG_SITES", "foo"),
    ("PROVIDER_ORDER", "Bogus"),
    ("ANIWORLD_BASE_URL", "ftp://x"),
    ("LOG_LEVEL", "loud"),
    ("CRAWL_CONCURRENCY", "0"),
    ("ANIBRIDGE_TRUSTED_PROXIES", "nginx"),
    ("ANIBRIDGE_TRUSTED_PROXIES", "0.0.0.0/0"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_invalid_value_raises_config_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^invalid setting {name}={value!r}: "):
        load_settings({name: value})


@pytest.mark.parametrize(("name", "value"), BAD)
def test_cli_reports_invalid_value_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    env = clean_env(DATA_DIR=str(tmp_path), **{name: value})
    done = subprocess.run([*anibridge_cmd(), "status"], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0]
    assert lines[0].startswith("anibridge: invalid setting")
    assert "Traceback" not in done.stderr + done.stdout
