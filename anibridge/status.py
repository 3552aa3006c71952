"""``anibridge status``: journal, projections and catalogue stages, with or without a running server.

Everything is read from the files in DATA_DIR through read-only connections (WAL snapshots: a
running server is neither blocked nor disturbed). Output is a rich table on a terminal and plain
``key: value`` lines otherwise (logs, scripts, CI).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import apsw

from .config import Settings
from .events.headmark import read_mark
from .events.journal import lost_end_message, open_connection
from .http.health import iso, read_challenges, read_hosts, read_parse_problems, read_stage_status, site_stages
from .projections.catalog import CatalogProjection
from .projections.projector import Projection, content_hash, live_file, read_checkpoint, stale_reason
from .projections.queries import STAGES
from .projections.tasks import TaskProjection


def _size(path: Path) -> int:
    """Bytes of a SQLite file with its -wal and -shm companions."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _open(path: Path) -> apsw.Connection:
    conn = open_connection(path, readonly=True)
    conn.execute("PRAGMA query_only=1")
    return conn


def _journal(settings: Settings) -> dict[str, Any]:
    path = settings.journal_path
    if not path.exists():
        return {"path": str(path), "exists": False, "head": 0, "size_bytes": 0}
    conn = _open(path)
    try:
        head, last_at = conn.execute(
            "SELECT position, recorded_at FROM events ORDER BY position DESC LIMIT 1").fetchone() or (0, None)
    finally:
        conn.close()
    mark = read_mark(path)
    lost = lost_end_message(int(head or 0), mark.position, path) if mark and mark.position > (head or 0) else ""
    return {"path": str(path), "exists": True, "head": int(head or 0), "size_bytes": _size(path),
            "last_event_at": iso(last_at), "lost_end": lost}


def _projection(name: str, base: Path, projection: Projection, head: int, *, with_hash: bool,
                journal_path: Path | None = None) -> dict[str, Any]:
    file = live_file(base)
    if not file.exists():
        return {"name": name, "file": str(file), "exists": False}
    conn = _open(file)
    try:
        conn.execute("BEGIN")  # one snapshot: checkpoint and hash describe the same state
        try:
            checkpoint, checkpoint_at = read_checkpoint(conn)
            row = conn.execute("SELECT value FROM projection_meta WHERE key = 'schema_version'").fetchone()
            digest = content_hash(conn, projection.hash_queries()) if with_hash else None
            stale = stale_reason(conn, journal_path) if journal_path is not None and journal_path.exists() else ""
        finally:
            conn.execute("COMMIT")
    except apsw.SQLError as exc:  # created but never initialised
        return {"name": name, "file": str(file), "exists": True, "error": str(exc)}
    finally:
        conn.close()
    return {"name": name, "file": str(file), "exists": True, "size_bytes": _size(file),
            "schema_version": row[0] if row else None, "checkpoint": checkpoint,
            "checkpoint_at": iso(checkpoint_at) if checkpoint_at else None,
            # a projection built from another history is not "0 behind": it must be rebuilt
            "lag_events": None if stale else max(0, head - checkpoint), "stale": stale, "content_hash": digest}


def _catalog(settings: Settings) -> dict[str, Any]:
    file = live_file(settings.catalog_path)
    if not file.exists():
        return {"stages": {}, "titles": {}, "episodes": {}, "failures": {}, "problems": {}, "challenges": {},
                "hosts": {}}
    conn = _open(file)
    try:
        conn.execute("BEGIN")
        try:
            stages = read_stage_status(conn)
            titles = dict(conn.execute("SELECT site, count(*) FROM titles GROUP BY site").fetchall())
            episodes = dict(conn.execute("SELECT site, count(*) FROM episodes GROUP BY site").fetchall())
            failures = dict(conn.execute("SELECT site, count(*) FROM details_failures GROUP BY site").fetchall())
            problems = read_parse_problems(conn)
            challenges = read_challenges(conn)
            hosts = read_hosts(conn)
        finally:
            conn.execute("COMMIT")
    except apsw.SQLError:
        return {"stages": {}, "titles": {}, "episodes": {}, "failures": {}, "problems": {}, "challenges": {},
                "hosts": {}}
    finally:
        conn.close()
    return {"stages": stages, "titles": titles, "episodes": episodes, "failures": failures, "problems": problems,
            "challenges": challenges, "hosts": hosts}


def _tasks(settings: Settings) -> dict[str, int]:
    file = live_file(settings.tasks_path)
    if not file.exists():
        return {}
    conn = _open(file)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status").fetchall())
    except apsw.SQLError:
        return {}
    finally:
        conn.close()


def collect_status(settings: Settings, *, with_hash: bool = True) -> dict[str, Any]:
    """Everything ``anibridge status`` shows, as plain data."""
    journal = _journal(settings)
    head = journal["head"]
    projections = [
        _projection("catalog", settings.catalog_path, CatalogProjection(), head, with_hash=with_hash,
                    journal_path=settings.journal_path),
        _projection("tasks", settings.tasks_path, TaskProjection(), head, with_hash=with_hash,
                    journal_path=settings.journal_path),
    ]
    catalog = _catalog(settings)
    now = time.time()
    sites = list(settings.sites) + sorted(s for s in catalog["stages"] if s not in settings.sites)
    per_site = {}
    for site in sites:
        status = catalog["stages"].get(site, {})
        per_site[site] = {
            "title_ready": (status.get("titles") or {}).get("live_generation") is not None,
            "titles": int(catalog["titles"].get(site, 0)),
            "episodes": int(catalog["episodes"].get(site, 0)),
            "failed_pages": int(catalog["failures"].get(site, 0)),
            "stages": site_stages(status, now=now, problems=catalog["problems"].get(site)),
            "parse_problems": [p["text"] for p in catalog["problems"].get(site, [])],
            "challenges": catalog["challenges"].get(site) or {"total": 0, "kinds": []},
            "host": (catalog["hosts"].get(site) or {}).get("base_url") or (
                settings.base_urls(site)[0] if site in settings.sites else ""),
        }
    return {"data_dir": str(settings.data_dir), "journal": journal, "projections": projections,
            "sites": per_site, "tasks": _tasks(settings)}


# --- output -------------------------------------------------------------------------------------
def _stage_cells(v: dict[str, Any]) -> list[str]:
    total = str(v["total"]) if v["total"] else "?"
    pct = f" ({v['percent']:.0f} %)" if v["percent"] is not None and v["state"] != "ready" else ""
    return [v["state"], f"{v['done']}/{total}{pct}", str(v["failed"]), v["last_success"] or "never",
            f"{v['last_duration_s']:.1f} s" if v["last_duration_s"] is not None else "–",
            (v["last_error"] or "")[:80]]


def _challenge_text(challenges: dict[str, Any]) -> str:
    """'4 (DDoS-Guard 3, captcha page 1; last 2026-12-03T10:00:00+00:00)'."""
    kinds = challenges["kinds"]
    last = max((k["last_at"] or "" for k in kinds), default="")
    return (f"{challenges['total']} (" + ", ".join(f"{k['kind']} {k['count']}" for k in kinds)
            + (f"; last {last}" if last else "") + ")")


def _projection_line(p: dict[str, Any]) -> str:
    if not p["exists"]:
        return f"{p['name']}: not built yet ({p['file']})"
    if "error" in p:
        return f"{p['name']}: unreadable ({p['error']})"
    digest = p["content_hash"] or "(not computed)"
    if p.get("stale"):
        return (f"{p['name']}: STALE, not built from this journal ({p['stale']}); checkpoint {p['checkpoint']}."
                " anibridge serve rebuilds it before serving (or run anibridge replay)")
    return (f"{p['name']}: checkpoint {p['checkpoint']}, lag {p['lag_events']} events, schema v{p['schema_version']},"
            f" {_human(p['size_bytes'])}, content hash {digest} ({Path(p['file']).name})")


def print_plain(report: dict[str, Any], out: TextIO) -> None:
    w: Callable[[str], None] = lambda line: print(line, file=out)  # noqa: E731
    j = report["journal"]
    w(f"data dir: {report['data_dir']}")
    if j["exists"]:
        w(f"journal: head {j['head']}, {_human(j['size_bytes'])}, last event {j['last_event_at'] or 'none'}")
        if j.get("lost_end"):
            w(f"journal DAMAGED: {j['lost_end']}")
    else:
        w(f"journal: none yet ({j['path']}); start `anibridge serve` or run `anibridge crawl`")
    for p in report["projections"]:
        w(f"projection {_projection_line(p)}")
    for site, s in report["sites"].items():
        ready = "searchable" if s["title_ready"] else "not searchable yet"
        w(f"site {site}: {ready}; {s['titles']} titles, {s['episodes']} episodes, {s['failed_pages']} failed pages")
        for stage in STAGES:
            state, progress, failed, success, duration, error = _stage_cells(s["stages"][stage])
            line = (f"  {stage}: {state}, done {progress}, failed {failed}, last success {success},"
                    f" took {duration}")
            w(line + (f", last error: {error}" if error else ""))
        for text in s["parse_problems"]:
            w(f"  pages lacked: {text}")
        if s["host"]:
            w(f"  host in use: {s['host']}")
        if s["challenges"]["total"]:
            w(f"  challenges: {_challenge_text(s['challenges'])}")
    tasks = report["tasks"]
    w("downloads: " + (", ".join(f"{n} {status}" for status, n in tasks.items()) if tasks else "none"))


def print_rich(report: dict[str, Any], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    j = report["journal"]
    console.print(f"[bold]AniBridge status[/bold]  data dir {report['data_dir']}")
    if j["exists"]:
        console.print(f"journal: head [bold]{j['head']}[/bold], {_human(j['size_bytes'])}, "
                      f"last event {j['last_event_at'] or 'none'}")
        if j.get("lost_end"):
            console.print(f"[red]journal DAMAGED: {j['lost_end']}[/red]")
    else:
        console.print(f"journal: none yet ({j['path']})")
    proj = Table(title="projections")
    for col in ("name", "checkpoint", "lag (events)", "schema", "size", "content hash"):
        proj.add_column(col)
    for p in report["projections"]:
        if not p["exists"] or "error" in p:
            proj.add_row(p["name"], "–", "–", "–", "–", p.get("error", "not built yet"))
        else:
            lag = "[red]stale: rebuilt on start[/red]" if p.get("stale") else str(p["lag_events"])
            proj.add_row(p["name"], str(p["checkpoint"]), lag, str(p["schema_version"]),
                         _human(p["size_bytes"]), p["content_hash"] or "(not computed)")
    console.print(proj)
    colors = {"ready": "green", "running": "blue", "failed": "red", "pending": "grey50", "incomplete": "yellow"}
    stages = Table(title="catalogue")
    for col in ("site", "stage", "state", "done/total", "failed", "last success (UTC)", "took", "last error"):
        stages.add_column(col, overflow="fold")
    for site, s in report["sites"].items():
        label = f"{site}\n{s['titles']} titles\n{s['episodes']} episodes"
        for i, stage in enumerate(STAGES):
            cells = _stage_cells(s["stages"][stage])
            cells[0] = f"[{colors.get(cells[0], 'white')}]{cells[0]}[/]"
            cells[3] = cells[3].replace("T", " ")[:16]  # 2026-01-31 12:00 (UTC)
            stages.add_row(label if i == 0 else "", stage, *cells)
        for text in s["parse_problems"]:
            stages.add_row("", "", "[yellow]pages lacked[/]", text, "", "", "", "")
        if s["challenges"]["total"]:
            stages.add_row("", "", "[yellow]challenges[/]", _challenge_text(s["challenges"]), "", "", "", "")
    console.print(stages)
    tasks = report["tasks"]
    console.print("downloads: " + (", ".join(f"{n} {status}" for status, n in tasks.items()) if tasks else "none"))


def print_status(settings: Settings, out: TextIO | None = None) -> int:
    """Print the status report; exit code 0 (a missing journal is reported, not an error)."""
    out = out or sys.stdout
    report = collect_status(settings)
    try:
        if out.isatty():
            print_rich(report, out)
        else:
            print_plain(report, out)
        out.flush()
    except BrokenPipeError:  # `anibridge status | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
