"""Canonical mapping accuracy against the local world's ground truth.

Generates a world (default 2,000 titles per site), crawls titles + details + canonical over real
sockets, and compares every canonical row and episode map with ``world.truth``. Prints one table
per site and a total, plus episode-map accuracy and wall times.

    .venv/bin/python bench/canonical_accuracy.py [--titles 2000] [--sites aniworld.to,s.to,megakino] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anibridge.devworld.testing import running_world  # noqa: E402
from anibridge.testing import crawl_now, running_anibridge, world_env  # noqa: E402

WORLD_SITE = {"aniworld.to": "aniworld", "s.to": "sto", "megakino": "megakino"}
SERIES_COLS = ("series", "correct", "wrong", "ambiguous", "unmatched", "  of them truly unmatched", "failed",
               "no row")


def world_slug(site: str, slug: str) -> str:
    return slug.split("-", 1)[1].removesuffix("-1-staffel") if site == "megakino" else slug


def evaluate(world: Any, conn: Any, site: str) -> tuple[collections.Counter[str], collections.Counter[str],
                                                        collections.Counter[str], list[str]]:
    series: collections.Counter[str] = collections.Counter()
    movies: collections.Counter[str] = collections.Counter()
    episodes: collections.Counter[str] = collections.Counter()
    wrong: list[str] = []
    rows = conn.execute("SELECT t.slug, t.media_type, c.status, c.tvdb_id, c.imdb_id, c.reason FROM titles t"
                        " LEFT JOIN canonical c ON c.site = t.site AND c.slug = t.slug WHERE t.site = ?",
                        (site,)).fetchall()
    for slug, _media, status, tvdb, imdb, reason in rows:
        truth = world.truth(WORLD_SITE[site], world_slug(site, slug))
        if truth is None:
            continue
        if truth["kind"] == "film":
            movies["movies"] += 1
            if status != "movie":
                movies["no row" if status is None else "not identified"] += 1
            elif truth["status"] == "match":
                movies["imdb correct" if imdb == truth["imdb_id"] else "imdb missing" if imdb is None
                       else "imdb wrong"] += 1
            else:
                movies["no imdb, correctly none" if imdb is None else "imdb invented"] += 1
            continue
        series["series"] += 1
        if status is None:
            series["no row"] += 1
        elif status == "matched":
            if tvdb == truth["tvdb_id"]:
                series["correct"] += 1
                _episodes(conn, site, slug, truth["episode_map"], episodes)
            else:
                series["wrong"] += 1
                wrong.append(f"{site}/{slug}: truth {truth['status']} {truth['tvdb_id']}, got {tvdb}: {reason}")
        elif status in ("ambiguous", "unmatched", "failed"):
            series[status] += 1
            if status == "unmatched" and truth["status"] == "unmatched":
                series["  of them truly unmatched"] += 1
    return series, movies, episodes, wrong


def _episodes(conn: Any, site: str, slug: str, truth: dict[tuple[int, int], tuple[int, int, int | None]],
              out: collections.Counter[str]) -> None:
    mapped = {(s, e): (ts, te, ab) for s, e, ts, te, ab in conn.execute(
        "SELECT season, episode, tvdb_season, tvdb_episode, absolute FROM episode_map WHERE site = ? AND slug = ?",
        (site, slug))}
    for (s, e) in conn.execute("SELECT season, episode FROM episodes WHERE site = ? AND slug = ?", (site, slug)):
        want, got = truth.get((s, e)), mapped.get((s, e))
        kind = "specials" if s == 0 else "regular"
        if want is None:
            out[f"{kind} not on TVDB, " + ("left unmapped" if got is None else "mapped anyway")] += 1
        elif got is None:
            out[f"{kind} unmapped"] += 1
        elif got == want:
            out[f"{kind} correct"] += 1
        else:
            out[f"{kind} wrong"] += 1


def table(title: str, cols: tuple[str, ...] | list[str], rows: dict[str, collections.Counter[str]]) -> None:
    width = max(len(c) for c in cols) + 2
    print(f"\n{title}")
    print("".ljust(width) + "".join(site.rjust(13) for site in rows))
    for col in cols:
        cells = []
        for counter in rows.values():
            base = counter[cols[0]] or 1
            value = counter[col]
            cells.append(f"{value}" if col == cols[0] else f"{value} {100 * value / base:4.1f}%")
        print(col.ljust(width) + "".join(c.rjust(13) for c in cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--titles", type=int, default=2000)
    ap.add_argument("--sites", default="aniworld.to,s.to,megakino")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show-wrong", type=int, default=10)
    args = ap.parse_args()
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp, running_world(seed=args.seed, titles=args.titles) as world, \
            running_anibridge(Path(tmp), **world_env(world)) as harness:
        runtime = harness.runtime
        walls: dict[str, dict[str, float]] = {}
        for site in sites:
            started = time.monotonic()
            crawl_now(runtime, sites=[site], stages=("titles", "details"))
            middle = time.monotonic()
            results = crawl_now(runtime, sites=[site], stages=("canonical",))
            walls[site] = {"titles+details": middle - started, "canonical": time.monotonic() - middle}
            res = results[-1]
            print(f"{site}: canonical {res.done} done, {res.failed} failed in {res.duration_s:.1f} s;"
                  f" SkyHook {res.fetch}", flush=True)
        conn = runtime.catalog.conn()
        series: dict[str, collections.Counter[str]] = {}
        movies: dict[str, collections.Counter[str]] = {}
        episodes: dict[str, collections.Counter[str]] = {}
        wrong: list[str] = []
        for site in sites:
            series[site], movies[site], episodes[site], w = evaluate(world.world, conn, site)
            wrong += w
        series["total"] = sum(series.values(), collections.Counter())
        episodes["total"] = sum(episodes.values(), collections.Counter())
        print(f"\nworld: seed {args.seed}, {args.titles} titles per site; sites: {', '.join(sites)}")
        table("series -> TVDB", SERIES_COLS, series)
        mv = {s: c for s, c in movies.items() if c["movies"]}
        if mv:
            table("movies -> IMDb", ["movies", "imdb correct", "imdb missing", "imdb wrong",
                                     "no imdb, correctly none", "imdb invented", "not identified", "no row"], mv)
        ep_cols = ["episodes", "regular correct", "regular wrong", "regular unmapped", "specials correct",
                   "specials wrong", "specials unmapped", "regular not on TVDB, left unmapped",
                   "specials not on TVDB, left unmapped", "regular not on TVDB, mapped anyway",
                   "specials not on TVDB, mapped anyway"]
        for c in episodes.values():
            c["episodes"] = sum(v for k, v in c.items() if k != "episodes")
        table("episode map (series mapped correctly)", ep_cols, episodes)
        print("\nwall time (s): " + ", ".join(
            f"{s}: titles+details {w['titles+details']:.1f}, canonical {w['canonical']:.1f}" for s, w in walls.items()))
        if wrong:
            print(f"\nwrong matches ({len(wrong)}, first {args.show_wrong}):")
            for line in wrong[: args.show_wrong]:
                print("  " + line[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())
