"""Health endpoints: ``/health`` (overall) and ``/health/catalog`` (per site and stage).

Both are cheap and never wait for the projector: they read ``stage_status`` (a handful of rows)
through the request thread's read-only WAL connection, the projectors' in-memory checkpoints
and, for ``/health``, task counts by status (indexed). The pure helpers here (``stage_view``,
``iso``) are shared with the status page and ``anibridge status``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import apsw
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..config import SITES
from ..crawlers.parsers.problems import describe
from ..projections.queries import STAGES
from .security import may_see_details, require_details
from .torznab.skipped import skipped_titles

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("anibridge.health")

router = APIRouter(tags=["health"])

STATES = ("pending", "running", "ready", "failed")
# A projection this far behind the journal is stuck rather than busy.
LAG_DEGRADED_S = 300.0
# A projector failing this long without one success is not going to recover on its own.
PROJECTOR_STUCK_S = 60.0
RECENT_FAILURES = 10


def iso(ts: float | None) -> str | None:
    """Unix time as ISO 8601 UTC (seconds), None stays None."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).isoformat(timespec="seconds")


def _num(value: Any) -> int:
    return int(value or 0)


def stage_view(row: dict[str, Any] | None, *, crawling: bool = False, now: float | None = None) -> dict[str, Any]:
    """One stage as the health API shows it; ``row`` is its ``stage_status`` row (None: never ran).

    ``crawling`` marks a stage the scheduler is running but whose start the projection has not
    shown yet. The rate (items/s) is reported while running, from the done count over the time
    between the run's start and its last update.
    """
    now = time.time() if now is None else now
    row = row or {}
    state = str(row.get("state") or "pending")
    if crawling and state != "running":
        state = "running"
    total, done, failed = _num(row.get("total")), _num(row.get("done")), _num(row.get("failed"))
    started, updated = row.get("started_at"), row.get("updated_at")
    rate: float | None = None
    eta: float | None = None
    if state == "running" and started is not None and updated is not None and done:
        elapsed = float(updated) - float(started)
        if elapsed > 0:
            rate = round(done / elapsed, 2)
            left = total - done - failed
            if total and left > 0 and rate > 0:
                eta = round(left / rate, 1)
    percent: float | None = None
    if state == "ready":
        percent = 100.0
    elif total:
        percent = round(min(100.0, 100.0 * (done + failed) / total), 1)
    last_success = row.get("last_success_at")
    return {
        "state": state,
        "run": _num(row.get("run")),
        "live_generation": row.get("live_generation"),
        "total": total,
        "done": done,
        "failed": failed,
        "unchanged": _num(row.get("unchanged")),
        "changed": _num(row.get("changed")),
        "percent": percent,
        "rate": rate,
        "eta_s": eta,
        "started_at": iso(started),
        "updated_at": iso(updated),
        "last_success": iso(last_success),
        "last_success_age_s": None if last_success is None else round(max(0.0, now - float(last_success)), 1),
        "last_duration_s": row.get("last_duration_s"),
        "last_error": str(row.get("last_error") or ""),
    }


def site_stages(status: dict[str, dict[str, Any]], *, crawling: bool = False,
                now: float | None = None, problems: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """All three stages of a site. While the scheduler crawls the site and no stage shows running
    yet, the first stage that never finished is the one running (its start is on its way).

    A details stage that finished while titles' pages lacked something (``problems``, from
    ``read_parse_problems``) is "incomplete", not "ready": some episodes have no release."""
    shown_running = any((status.get(s) or {}).get("state") == "running" for s in STAGES)
    first_open = next((s for s in STAGES if (status.get(s) or {}).get("state") in (None, "pending")), None)
    out = {stage: stage_view(status.get(stage), now=now,
                             crawling=crawling and not shown_running and stage == first_open)
           for stage in STAGES}
    details = out["details"]
    details["problems"] = [p["text"] for p in problems or []]
    if problems and details["state"] == "ready":
        details["state"] = "incomplete"
    return out


def read_parse_problems(conn: apsw.Connection) -> dict[str, list[dict[str, Any]]]:
    """Parse problems summed per site and kind: {site: [{kind, count, titles, example, text}]}, most first."""
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        rows = conn.execute(
            "SELECT site, kind, sum(count), count(*), min(detail) FROM parse_problems"
            " GROUP BY site, kind ORDER BY site, sum(count) DESC, kind").fetchall()
    except apsw.SQLError:  # a catalogue file from before parse problems were recorded
        return out
    for site, kind, count, titles, example in rows:
        out.setdefault(site, []).append({"kind": kind, "count": int(count), "titles": int(titles),
                                         "example": example, "text": describe(kind, int(count), int(titles))})
    return out


def read_challenges(conn: apsw.Connection) -> dict[str, dict[str, Any]]:
    """Challenge pages met per site: {site: {total, kinds: [{kind, count, last_at, last_url, stage}]}}."""
    out: dict[str, dict[str, Any]] = {}
    try:
        rows = conn.execute("SELECT site, kind, count, last_at, last_url, last_stage FROM challenges"
                            " ORDER BY site, count DESC, kind").fetchall()
    except apsw.SQLError:  # a catalogue file from before challenges were recorded
        return out
    for site, kind, count, last_at, last_url, stage in rows:
        entry = out.setdefault(site, {"total": 0, "kinds": []})
        entry["total"] += int(count)
        entry["kinds"].append({"kind": kind, "count": int(count), "last_at": iso(last_at), "last_url": last_url,
                               "stage": stage})
    return out


def read_hosts(conn: apsw.Connection) -> dict[str, dict[str, Any]]:
    """The host name each site answered under last, where it changed: {site: {base_url, previous, reason, at}}."""
    try:
        rows = conn.execute("SELECT site, base_url, previous, reason, changed_at FROM provider_hosts").fetchall()
    except apsw.SQLError:
        return {}
    return {site: {"base_url": url, "previous": previous, "reason": reason, "changed_at": iso(at)}
            for site, url, previous, reason, at in rows}


def host_in_use(runtime: Runtime, site: str, hosts: dict[str, dict[str, Any]]) -> str:
    """The recorded host name when it is still one of the site's configured names, else the configured one."""
    candidates = runtime.settings.base_urls(site) if site in SITES else []
    recorded = (hosts.get(site) or {}).get("base_url")
    if recorded and recorded in candidates:
        return str(recorded)
    return candidates[0] if candidates else ""


def _provider_state(runtime: Runtime) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    try:
        conn = runtime.catalog.conn()
        return read_challenges(conn), read_hosts(conn)
    except apsw.Error as exc:
        log.warning("health: could not read challenges or hosts: %s", exc)
        return {}, {}


def _parse_problems(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    try:
        return read_parse_problems(runtime.catalog.conn())
    except apsw.Error as exc:
        log.warning("health: could not read parse_problems: %s", exc)
        return {}


def sites_of(runtime: Runtime, status: dict[str, Any], *more: dict[str, Any]) -> list[str]:
    """Enabled sites first (in configured order), then any other site the catalogue knows (``status``,
    and ``more``: e.g. challenges met by downloads from a site that is not indexed)."""
    sites = list(runtime.settings.sites)
    known = set(status).union(*(set(m) for m in more))
    return sites + sorted(s for s in known if s not in sites)


def _crawling(runtime: Runtime, site: str) -> bool:
    scheduler = runtime.scheduler
    try:
        return bool(scheduler is not None and scheduler.is_running(site))
    except Exception:  # the scheduler is optional; health must answer whatever it does
        return False


def _next_run(runtime: Runtime, site: str) -> float | None:
    scheduler = runtime.scheduler
    if scheduler is None:
        return None
    try:
        return scheduler.next_run(site)
    except Exception:
        return None


def site_domains(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """The domain each moving site is reached on, and how it was found (Megakino moves about weekly)."""
    megakino = getattr(runtime, "megakino", None)
    if megakino is None or "megakino" not in runtime.settings.sites:
        return {}
    view = megakino.state.view()
    return {"megakino": view | {"checked_at": iso(view["checked_at"]), "changed_at": iso(view["changed_at"])}}


def projection_lags(runtime: Runtime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for projector in runtime.projectors():
        lag = asdict(projector.lag())
        lag["error"] = projector.error
        out[lag.pop("name")] = lag
    return out


STATUS_COLUMNS = ("site", "stage", "state", "run", "live_generation", "total", "done", "failed", "unchanged",
                  "changed", "started_at", "updated_at", "last_success_at", "last_duration_s", "last_error")


def read_stage_status(conn: apsw.Connection) -> dict[str, dict[str, dict[str, Any]]]:
    """``stage_status`` as {site: {stage: row}} (a few rows: one per site and stage)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in conn.execute(f"SELECT {', '.join(STATUS_COLUMNS)} FROM stage_status ORDER BY site, stage"):
        rec = dict(zip(STATUS_COLUMNS, row, strict=True))
        out.setdefault(rec["site"], {})[rec["stage"]] = rec
    return out


def _stage_status(runtime: Runtime) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        return read_stage_status(runtime.catalog.conn())
    except apsw.Error as exc:  # e.g. the file is being swapped by a replay: answer, say so
        log.warning("health: could not read stage_status: %s", exc)
        return {}


def task_counts(runtime: Runtime) -> dict[str, int]:
    """Active (downloading) and queued downloads, counted through the ``tasks_by_status`` index."""
    counts = {"active": 0, "queued": 0}
    try:
        rows = runtime.tasks_reader.connection().execute(
            "SELECT status, count(*) FROM tasks WHERE status IN ('downloading', 'queued') GROUP BY status"
        ).fetchall()
    except apsw.Error as exc:
        log.warning("health: could not count tasks: %s", exc)
        return counts
    for status, n in rows:
        counts["active" if status == "downloading" else "queued"] = int(n)
    return counts


def _caught_up(request: Request, runtime: Runtime, lags: dict[str, dict[str, Any]]) -> bool:
    """Whether every projection has caught up with the journal at least once since start-up.

    Until then (replaying a long journal after an upgrade or a ``replay``) the process answers
    from old or empty tables: that is "initializing", not "ok".
    """
    state = request.app.state
    seen: set[str] = getattr(state, "health_caught_up", None) or set()
    targets: dict[str, int] = getattr(state, "health_catch_up_targets", None) or {}
    for name, lag in lags.items():
        if name in seen:
            continue
        # The head at the first look is the target: reaching it means the backlog is applied.
        target = targets.setdefault(name, lag["head"])
        if lag["lag_events"] == 0 or lag["checkpoint"] >= target:
            seen.add(name)
    state.health_caught_up, state.health_catch_up_targets = seen, targets
    return all(name in seen for name in lags)


def vital_problems(request: Request, runtime: Runtime, lags: dict[str, dict[str, Any]],
                   now: float) -> list[str]:
    """What makes AniBridge *unhealthy* (HTTP 503, Docker's HEALTHCHECK fails) rather than degraded: it
    can no longer do its job whatever the providers do, and waiting will not fix it. The journal cannot
    store anything (its last commit failed: disk full, data folder read-only or gone; or its writer
    stopped), or a projector is dead (not running, stuck on a damaged journal, or failing without one
    success for PROJECTOR_STUCK_S). A provider that is down, a failed crawl or a lagging projection only
    make it degraded (200): restarting AniBridge would not help them."""
    if not getattr(runtime, "_started", False):
        return []
    problems: list[str] = []
    journal = runtime.journal
    if journal.write_error:
        problems.append(f"journal: cannot store new events ({journal.write_error}); check the data folder"
                        f" {runtime.settings.data_dir} (free space, permissions)")
    elif not journal.writer_alive:
        problems.append("journal: its writer has stopped")
    first_seen: dict[str, float] = getattr(request.app.state, "health_error_since", None) or {}
    for projector in runtime.projectors():
        name = projector.projection.name
        error = lags.get(name, {}).get("error", "")
        since = first_seen.setdefault(name, now) if error else first_seen.pop(name, None)
        if not getattr(projector, "alive", True):
            problems.append(f"{name} projector is not running")
        elif "JournalDamaged" in error:
            problems.append(f"{name} projector stopped: {error}")
        elif error and since is not None and now - since >= PROJECTOR_STUCK_S:
            problems.append(f"{name} projector has failed for {now - since:.0f} s: {error}")
    request.app.state.health_error_since = first_seen
    return problems


def overall(request: Request) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    now = time.time()
    lags = projection_lags(runtime)
    vital = vital_problems(request, runtime, lags, now)
    status = _stage_status(runtime)
    parse_problems = _parse_problems(runtime)
    challenges, hosts = _provider_state(runtime)
    catalog: dict[str, Any] = {}
    problems: list[str] = []
    for site in sites_of(runtime, status, challenges, hosts):
        stages = site_stages(status.get(site, {}), crawling=_crawling(runtime, site), now=now,
                             problems=parse_problems.get(site))
        ready = (status.get(site, {}).get("titles") or {}).get("live_generation") is not None
        catalog[site] = {stage: v["state"] for stage, v in stages.items()} | {"title_ready": ready}
        if stages["titles"]["state"] == "failed":
            problems.append(f"{site}: title list could not be crawled: {stages['titles']['last_error']}")
        problems += [f"{site}: {text}" for text in stages["details"]["problems"]]
    domains = site_domains(runtime)
    for site, domain in domains.items():
        if domain["problem"]:
            problems.append(f"{site}: {domain['problem']}")
    for name, lag in lags.items():
        if lag["error"]:
            problems.append(f"{name} projection: {lag['error']}")
        elif lag["lag_seconds"] > LAG_DEGRADED_S:
            problems.append(f"{name} projection is {lag['lag_events']} events ({lag['lag_seconds']:.0f} s) behind")
    started = getattr(runtime, "_started", True)
    if vital:
        state = "unhealthy"
        problems = vital + problems
    elif problems:
        state = "degraded"
    elif not started or not _caught_up(request, runtime, lags):
        state = "initializing"
    else:
        state = "ok"
    pending = [site for site, c in catalog.items() if not c["title_ready"]]
    return {
        "status": state,
        "version": __version__,
        "uptime_s": round(now - runtime.started_at, 1),
        "journal_head": max((lag["head"] for lag in lags.values()), default=runtime.journal.head()),
        "catalog": catalog,
        "catalog_note": (f"not searchable yet (first crawl pending or running): {', '.join(pending)}"
                         if pending else "every site is searchable"),
        "domains": {site: domain["domain"] for site, domain in domains.items()},
        "downloads": task_counts(runtime),
        "hosts": {site: host_in_use(runtime, site, hosts) for site in catalog},
        "challenges": {site: (challenges.get(site) or {}).get("total", 0) for site in catalog},
        "projections": {name: lag["lag_events"] for name, lag in lags.items()},
        "titles_left_out_of_search": skipped_titles()["count"],
        "problems": problems,
    }


def recent_failures(runtime: Runtime, limit: int = RECENT_FAILURES) -> list[dict[str, Any]]:
    """The latest details failures (titles whose page could not be read), newest first."""
    try:
        rows = runtime.catalog.conn().execute(
            "SELECT site, slug, url, reason, failed_at, retry_at FROM details_failures"
            " ORDER BY failed_at DESC, site, slug LIMIT ?", (limit,)).fetchall()
    except apsw.Error as exc:
        log.warning("health: could not read details_failures: %s", exc)
        return []
    return [{"site": r[0], "slug": r[1], "url": r[2], "reason": r[3], "failed_at": iso(r[4]),
             "retry_at": iso(r[5])} for r in rows]


def catalog_detail(runtime: Runtime, *, failures: bool = True) -> dict[str, Any]:
    now = time.time()
    lags = projection_lags(runtime)
    status = _stage_status(runtime)
    parse_problems = _parse_problems(runtime)
    challenges, hosts = _provider_state(runtime)
    sites: dict[str, Any] = {}
    domains = site_domains(runtime)
    for site in sites_of(runtime, status, challenges, hosts):
        crawling = _crawling(runtime, site)
        nxt = _next_run(runtime, site)
        titles = status.get(site, {}).get("titles") or {}
        sites[site] = {
            "title_ready": titles.get("live_generation") is not None,
            "live_generation": titles.get("live_generation"),
            "crawling": crawling,
            "enabled": site in runtime.settings.sites,
            "next_refresh": iso(nxt),
            "next_refresh_in_s": None if nxt is None else round(max(0.0, nxt - now), 1),
            "stages": site_stages(status.get(site, {}), crawling=crawling, now=now,
                                  problems=parse_problems.get(site)),
            "parse_problems": parse_problems.get(site, []),
            "challenges": challenges.get(site) or {"total": 0, "kinds": []},
            "host": host_in_use(runtime, site, hosts),
            "host_change": hosts.get(site),
        }
        if site in domains:
            sites[site]["domain"] = domains[site]
    cat = lags.get("catalog", {})
    out: dict[str, Any] = {
        "generated_at": iso(now),
        "journal_head": cat.get("head", runtime.journal.head()),
        "projection": {"checkpoint": cat.get("checkpoint"), "lag_events": cat.get("lag_events"),
                       "lag_seconds": cat.get("lag_seconds"), "error": cat.get("error", "")},
        "projections": {name: {k: lag[k] for k in ("checkpoint", "lag_events", "lag_seconds", "error")}
                        for name, lag in lags.items()},
        "sites": sites,
    }
    if failures:
        out["recent_failures"] = recent_failures(runtime)
        out["titles_left_out_of_search"] = skipped_titles()
    return out


@router.get("/health")
def health(request: Request) -> Any:
    """Overall state for Docker's HEALTHCHECK, Sonarr users and monitoring: cheap, never blocks.
    HTTP 503 when unhealthy (see ``vital_problems``), 200 otherwise (ok, initializing, degraded).

    Once a secret is set, anonymous callers see only the state; details (problems name provider
    URLs and errors) need the API key or a qBittorrent login."""
    body = overall(request)
    shown = body if may_see_details(request) else {"status": body["status"]}
    if body["status"] == "unhealthy":
        return JSONResponse(shown, status_code=503)
    return shown


@router.get("/health/catalog", dependencies=[Depends(require_details)])
def health_catalog(request: Request) -> dict[str, Any]:
    """Per site and stage: state, progress, rate, last success and error, next refresh, lag."""
    return catalog_detail(request.app.state.runtime)
