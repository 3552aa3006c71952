"""The status page at ``/``: server-rendered HTML, no build step, no external assets.

The page is complete without JavaScript (every number is rendered on the server). A small inline
script then polls ``/health/catalog``, ``/health`` and ``/health/downloads`` every 2 s and
updates the numbers in place: every live value is an element with ``data-k`` naming its path in
the JSON answer (``sites|aniworld.to|stages|details|done``) and ``data-fmt`` naming its format;
progress bars carry ``data-bar``.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

import apsw
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from .. import __version__
from ..projections.queries import STAGES
from .health import catalog_detail, iso, overall
from .security import may_see_details, require_details

if TYPE_CHECKING:
    from ..runtime import Runtime

router = APIRouter(tags=["status"])

DOWNLOADS_SHOWN = 50
POLL_MS = 2000


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _fmt(value: Any, fmt: str) -> str:
    """Python twin of the script's ``fmt`` (the first render and the updates look the same)."""
    if value is None or value == "":
        return "–"
    if fmt == "pct":
        return f"{float(value):.1f} %"
    if fmt == "rate":
        return f"{float(value):.1f}/s"
    if fmt == "secs":
        return f"{float(value):.1f} s"
    if fmt == "bytes":
        return _bytes(int(value))
    return str(value)


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _live(path: str, value: Any, fmt: str = "text", *, dom_id: str = "", cls: str = "") -> str:
    attrs = f' id="{_e(dom_id)}"' if dom_id else ""
    attrs += f' class="{_e(cls)}"' if cls else ""
    return f'<span{attrs} data-k="{_e(path)}" data-fmt="{fmt}">{_e(_fmt(value, fmt))}</span>'


def _live_figures(runtime: Runtime) -> dict[str, Any]:
    """The download worker's in-memory figures ({hash: Live(downloaded, total, speed, host)}), if any."""
    live = getattr(getattr(runtime, "worker", None), "live", None)
    try:
        return dict(live) if live else {}
    except Exception:  # the page must render whatever the worker does
        return {}


def downloads_snapshot(runtime: Runtime, limit: int = DOWNLOADS_SHOWN) -> list[dict[str, Any]]:
    """Downloads in progress and queued (read through the status index), overlaid with the worker's
    live figures (bytes, speed) when it runs; without a worker the projection's coalesced figures."""
    try:
        rows = runtime.tasks_reader.connection().execute(
            "SELECT hash, name, status, downloaded, total_size, added_on, started_on, host, error"
            " FROM tasks WHERE status IN ('downloading', 'queued')"
            " ORDER BY status = 'queued', added_on, hash LIMIT ?", (limit,)).fetchall()
    except apsw.Error:
        return []
    live = _live_figures(runtime)
    out = []
    for h, name, status, downloaded, total, added, started, host, error in rows:
        rec: dict[str, Any] = {"hash": h, "name": name, "status": status, "downloaded": int(downloaded or 0),
                               "total_size": int(total or 0), "added_on": iso(added), "started_on": iso(started),
                               "host": host, "error": error, "speed": None, "eta_s": None}
        fig = live.get(h)
        if fig is not None and status == "downloading":
            rec["downloaded"] = max(rec["downloaded"], int(getattr(fig, "downloaded", 0) or 0))
            rec["total_size"] = rec["total_size"] or int(getattr(fig, "total", 0) or 0)
            rec["speed"] = float(getattr(fig, "speed", 0.0) or 0.0)
            rec["host"] = rec["host"] or getattr(fig, "host", "")
            left = rec["total_size"] - rec["downloaded"]
            if rec["speed"] > 0 and left > 0:
                rec["eta_s"] = round(left / rec["speed"], 1)
        total_size = rec["total_size"]
        rec["percent"] = round(min(100.0, 100.0 * rec["downloaded"] / total_size), 1) if total_size else None
        out.append(rec)
    return out


@router.get("/health/downloads", tags=["health"], dependencies=[Depends(require_details)])
def health_downloads(request: Request) -> dict[str, Any]:
    """Downloads in progress and queued (at most 50), for the status page."""
    return {"downloads": downloads_snapshot(request.app.state.runtime)}


CSS = """
:root{color-scheme:light dark;--ok:#2e9d4f;--run:#2f6fd6;--pend:#8a8f98;--fail:#c8372d;--bg2:rgba(127,127,127,.12)}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 8px}
.meta{color:var(--pend);margin-bottom:12px}.meta>span{margin-right:14px}
.site{border:1px solid var(--bg2);border-radius:8px;padding:10px 14px;margin:10px 0}
.site h3{margin:0 0 6px;font-size:15px}.site table{table-layout:fixed}
table{border-collapse:collapse;width:100%}td,th{padding:4px 6px;text-align:left;vertical-align:top}
th{font-weight:600;border-bottom:1px solid var(--bg2)}tr+tr td{border-top:1px solid var(--bg2)}
.bar{background:var(--bg2);border-radius:4px;height:10px;width:90%;overflow:hidden}
.bar>div{background:var(--run);height:100%;width:0;transition:width .4s}
.badge{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;background:var(--pend);font-size:12px}
.s-ready,.s-ok{background:var(--ok)}.s-running{background:var(--run)}.s-failed,.s-degraded,.s-unhealthy{background:var(--fail)}
.s-pending,.s-initializing{background:var(--pend)}.s-incomplete{background:#c27c0e}
.err{color:var(--fail);font-size:12px;max-width:420px;word-break:break-word}
.num{font-variant-numeric:tabular-nums}.muted{color:var(--pend)}
"""

SCRIPT = """
(function(){
  var polls = 0;
  function get(obj, path){
    var parts = path.split('|');
    for (var i = 0; i < parts.length; i++){ if (obj == null) return null; obj = obj[parts[i]]; }
    return obj;
  }
  function bytes(n){
    var u = ['B','KiB','MiB','GiB'], i = 0;
    while (n >= 1024 && i < 3){ n /= 1024; i++; }
    return i ? n.toFixed(1) + ' ' + u[i] : n.toFixed(0) + ' B';
  }
  function fmt(v, f){
    if (v === null || v === undefined || v === '') return '\\u2013';
    if (f === 'pct') return Number(v).toFixed(1) + ' %';
    if (f === 'rate') return Number(v).toFixed(1) + '/s';
    if (f === 'secs') return Number(v).toFixed(1) + ' s';
    if (f === 'bytes') return bytes(Number(v));
    return String(v);
  }
  function apply(root, data){
    root.querySelectorAll('[data-k]').forEach(function(el){
      var path = el.getAttribute('data-k'), src = el.getAttribute('data-src') || 'catalog';
      if (src !== data.__src) return;
      var v = get(data, path), text = fmt(v, el.getAttribute('data-fmt'));
      if (el.textContent !== text) el.textContent = text;
      if (el.classList.contains('badge')) el.className = 'badge s-' + v;
    });
    root.querySelectorAll('[data-bar]').forEach(function(el){
      if ((el.getAttribute('data-src') || 'catalog') !== data.__src) return;
      var v = get(data, el.getAttribute('data-bar'));
      el.style.width = (v === null || v === undefined ? 0 : Math.max(0, Math.min(100, v))) + '%';
    });
  }
  function row(d){
    var tr = document.createElement('tr');
    [d.name, d.status, d.percent === null ? '\\u2013' : d.percent.toFixed(1) + ' %',
     bytes(d.downloaded) + (d.total_size ? ' / ' + bytes(d.total_size) : ''),
     d.speed ? bytes(d.speed) + '/s' : '\\u2013', d.host || '', d.error || ''].forEach(function(t){
      var td = document.createElement('td'); td.textContent = t; tr.appendChild(td);
    });
    return tr;
  }
  function downloads(data){
    var body = document.getElementById('downloads-body');
    if (!body) return;
    body.textContent = '';
    if (!data.downloads.length){
      var tr = document.createElement('tr'), td = document.createElement('td');
      td.colSpan = 7; td.className = 'muted'; td.textContent = 'nothing downloading or queued';
      tr.appendChild(td); body.appendChild(tr); return;
    }
    data.downloads.forEach(function(d){ body.appendChild(row(d)); });
  }
  var KEY = new URLSearchParams(location.search).get('apikey');
  function fetchJson(url){
    return fetch(url, {cache: 'no-store', headers: KEY ? {'X-Api-Key': KEY} : {}}).then(function(r){
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return r.json();
    });
  }
  function poll(){
    Promise.all([fetchJson('health/catalog'), fetchJson('health'), fetchJson('health/downloads')])
      .then(function(res){
        res[0].__src = 'catalog'; res[1].__src = 'health';
        apply(document, res[0]); apply(document, res[1]); downloads(res[2]);
        polls++;
        var p = document.getElementById('polls'); p.textContent = String(polls);
        document.body.setAttribute('data-polls', String(polls));
        document.getElementById('poll-error').textContent = '';
      })
      .catch(function(err){ document.getElementById('poll-error').textContent = String(err); })
      .then(function(){ setTimeout(poll, POLL_MS); });
  }
  setTimeout(poll, POLL_MS);
})();
""".replace("POLL_MS", str(POLL_MS))


def _stage_row(site: str, stage: str, v: dict[str, Any]) -> str:
    base = f"sites|{site}|stages|{stage}"
    sid = f"{site}-{stage}"
    bar = v["percent"] if v["percent"] is not None else 0
    error = v["last_error"]
    return (
        "<tr>"
        f"<td>{_e(stage)}</td>"
        f'<td>{_live(base + "|state", v["state"], dom_id=sid + "-state", cls="badge s-" + v["state"])}</td>'
        f'<td><div class="bar"><div data-bar="{_e(base)}|percent" style="width:{bar}%"></div></div></td>'
        f'<td class="num">{_live(base + "|done", v["done"], dom_id=sid + "-done")} / '
        f'{_live(base + "|total", v["total"], dom_id=sid + "-total")}</td>'
        f'<td class="num">{_live(base + "|failed", v["failed"], dom_id=sid + "-failed")}</td>'
        f'<td class="num">{_live(base + "|rate", v["rate"], "rate", dom_id=sid + "-rate")}</td>'
        f'<td class="num">{_live(base + "|last_success", v["last_success"], dom_id=sid + "-last-success")}</td>'
        f'<td class="err">{_live(base + "|last_error", error or None, dom_id=sid + "-error")}</td>'
        "</tr>"
    )


def _site_block(site: str, s: dict[str, Any]) -> str:
    rows = "".join(_stage_row(site, stage, s["stages"][stage]) for stage in STAGES)
    ready = "searchable" if s["title_ready"] else "not searchable yet"
    return (
        f'<div class="site" data-site="{_e(site)}"><h3>{_e(site)} '
        f'<span class="muted">({ready}; generation {_live(f"sites|{site}|live_generation", s["live_generation"])};'
        f' crawling now: {_live(f"sites|{site}|crawling", str(s["crawling"]).lower())};'
        f' next refresh: {_live(f"sites|{site}|next_refresh", s["next_refresh"])})</span></h3>'
        '<table><tr><th style="width:9%">stage</th><th style="width:9%">state</th>'
        '<th style="width:20%">progress</th><th style="width:12%">done / total</th><th style="width:7%">failed</th>'
        '<th style="width:8%">rate</th><th style="width:15%">last success</th><th>last error</th></tr>'
        f"{rows}</table>{_site_notes(site, s)}</div>"
    )


def _site_notes(site: str, s: dict[str, Any]) -> str:
    """What the site's pages lacked (parse problems): shown, never left for the user to guess."""
    items = "".join(f"<li>{_e(p['text'])} <span class=\"muted\">(e.g. {_e(p['example'])})</span></li>"
                    for p in s.get("parse_problems") or [])
    out = f'<p class="muted">host in use: <span id="{_e(site)}-host">{_e(s.get("host") or "")}</span>'
    challenges = s.get("challenges") or {}
    if challenges.get("total"):
        kinds = ", ".join(f"{k['kind']} {k['count']}" for k in challenges["kinds"])
        out += f'; challenges met: <span id="{_e(site)}-challenges">{challenges["total"]} ({_e(kinds)})</span>'
    out += "</p>"
    if items:
        out += (f'<div class="err" id="{_e(site)}-problems"><strong>pages that lacked something:</strong>'
                f"<ul>{items}</ul></div>")
    return out


def _failures(items: list[dict[str, Any]]) -> str:
    if not items:
        return '<p class="muted" id="failures-none">no failed title pages</p>'
    rows = "".join(
        f"<tr><td>{_e(f['site'])}</td><td>{_e(f['slug'])}</td><td class=\"err\">{_e(f['reason'])}</td>"
        f"<td>{_e(f['failed_at'])}</td><td>{_e(f['retry_at'])}</td></tr>" for f in items)
    return ('<table id="failures"><tr><th>site</th><th>title</th><th>reason</th><th>failed at</th>'
            f"<th>retry after</th></tr>{rows}</table>")


def _downloads(items: list[dict[str, Any]]) -> str:
    if items:
        rows = "".join(
            f"<tr><td>{_e(d['name'])}</td><td>{_e(d['status'])}</td><td>{_e(_fmt(d['percent'], 'pct'))}</td>"
            f"<td>{_e(_bytes(d['downloaded']))}{' / ' + _e(_bytes(d['total_size'])) if d['total_size'] else ''}</td>"
            f"<td>{_e(_bytes(int(d['speed'])) + '/s' if d['speed'] else '–')}</td><td>{_e(d['host'])}</td>"
            f"<td class=\"err\">{_e(d['error'])}</td></tr>" for d in items)
    else:
        rows = '<tr><td colspan="7" class="muted">nothing downloading or queued</td></tr>'
    return ("<table><thead><tr><th>name</th><th>status</th><th>progress</th><th>size</th><th>speed</th>"
            f'<th>host</th><th>error</th></tr></thead><tbody id="downloads-body">{rows}</tbody></table>')


def render(request: Request) -> str:
    runtime: Runtime = request.app.state.runtime
    health = overall(request)
    cat = catalog_detail(runtime)
    sites = "".join(_site_block(site, s) for site, s in cat["sites"].items()) or \
        '<p class="muted">no catalogue sites enabled (CATALOG_SITES / CATALOG_ENABLED)</p>'
    lags = "".join(
        f'<span>{_e(name)} projection lag: {_live(f"projections|{name}|lag_events", p["lag_events"])} events'
        f' ({_live(f"projections|{name}|lag_seconds", p["lag_seconds"], "secs")})</span>'
        for name, p in cat["projections"].items())

    def hl(path: str, value: Any, fmt: str = "text", dom_id: str = "", cls: str = "") -> str:
        return _live(path, value, fmt, dom_id=dom_id, cls=cls).replace("<span ", '<span data-src="health" ', 1)

    badge = hl("status", health["status"], dom_id="status", cls="badge s-" + health["status"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>AniBridge status</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body data-polls="0" data-rendered-head="{_e(cat["journal_head"])}">
<h1>AniBridge {_e(__version__)} {badge}</h1>
<div class="meta"><span>uptime {hl("uptime_s", health["uptime_s"], "secs", dom_id="uptime")}</span>
<span>journal head {_live("journal_head", cat["journal_head"], dom_id="journal-head")}</span>{lags}
<span>downloading {hl("downloads|active", health["downloads"]["active"], dom_id="downloads-active")},
queued {hl("downloads|queued", health["downloads"]["queued"], dom_id="downloads-queued")}</span>
<span>updates: <span id="polls">0</span></span><span id="poll-error" class="err"></span></div>
<div class="meta">{hl("catalog_note", health["catalog_note"], dom_id="catalog-note")}</div>
<h2>Catalogue</h2>{sites}
<h2>Recent failures</h2>{_failures(cat.get("recent_failures", []))}
<h2>Downloads</h2>{_downloads(downloads_snapshot(runtime))}
<p class="muted">rendered {_e(iso(time.time()))}; numbers refresh every {POLL_MS // 1000} s from
<a href="health/catalog">/health/catalog</a> and <a href="health">/health</a>.</p>
<script>{SCRIPT}</script>
</body></html>
"""


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request) -> HTMLResponse:
    if request.method == "HEAD":  # qBittorrent clients probe ``HEAD /``: answer cheaply
        return HTMLResponse("")
    page = render(request) if may_see_details(request) else sign_in(request)
    # no-referrer: a page opened with ?apikey= must not hand the key to anything it links to
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


SIGN_IN_SCRIPT = """
document.getElementById('login').addEventListener('submit', function(ev){
  ev.preventDefault();
  var f = ev.target, out = document.getElementById('login-result');
  fetch('api/v2/auth/login', {method: 'POST', body: new URLSearchParams(new FormData(f))})
    .then(function(r){ return r.text(); })
    .then(function(t){ if (t === 'Ok.') location.reload(); else out.textContent = t === 'Fails.' ? 'wrong login' : t; })
    .catch(function(err){ out.textContent = String(err); });
});
"""


def sign_in(request: Request) -> str:
    """For an anonymous visitor once a secret is set: the overall state, and ways to sign in."""
    settings = request.app.state.runtime.settings
    state = overall(request)["status"]
    forms = ""
    if settings.indexer_api_key:
        forms += ('<form method="get" action="./"><label>API key <input type="password" name="apikey"'
                  ' autocomplete="current-password"></label> <button>show status</button></form>')
    if settings.qbit_username or settings.qbit_password:
        forms += ('<form id="login" method="post" action="api/v2/auth/login"><label>user <input name="username"'
                  ' autocomplete="username"></label> <label>password <input type="password" name="password"'
                  ' autocomplete="current-password"></label> <button>log in</button>'
                  ' <span id="login-result" class="err"></span></form>'
                  f"<script>{SIGN_IN_SCRIPT}</script>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>AniBridge status</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>AniBridge <span id="status" class="badge s-{_e(state)}">{_e(state)}</span></h1>
<p class="muted">Details need the API key (INDEXER_API_KEY) or the qBittorrent login (QBIT_USERNAME).</p>
{forms}
</body></html>
"""
