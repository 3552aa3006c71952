"""The journal: codec round trips, registry rules, gapless concurrent appends, append-only
triggers, durability under SIGKILL, streaming reads and wake-ups. Real files, real processes."""

from __future__ import annotations

import inspect
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import apsw
import orjson
import pytest
from pydantic import BaseModel

from anibridge.events import Event, EventDecodeError, Journal, decode, encode
from anibridge.events import registry as reg
from anibridge.events.registry import register, registered_types, upcaster
from anibridge.events.types import TaskPaused, TaskProgress

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# --- a factory that builds a valid instance of any event model from its annotations -------------
def _value_for(annotation: Any, name: str, seed: int) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is str:
        return f"{name}-{seed}-ä✓"  # non-ASCII on purpose: the codec must keep it
    if annotation is bool:
        return seed % 2 == 1
    if annotation is int:
        return 1000 + seed
    if annotation is float:
        return seed + 0.25
    if origin is Literal:
        return args[seed % len(args)]
    if origin in (typing.Union, types.UnionType):
        concrete = [a for a in args if a is not type(None)]
        return _value_for(concrete[0], name, seed)
    if origin is list:
        return [_value_for(args[0], name, seed + i) for i in range(2)]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value_for(args[0], name, seed + i) for i in range(2))
        return tuple(_value_for(a, name, seed + i) for i, a in enumerate(args))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return build_model(annotation, seed)
    raise TypeError(f"factory cannot fill field {name!r} of type {annotation!r}; teach _value_for about it")


def build_model(cls: type[BaseModel], seed: int = 1) -> Any:
    """Every field filled (required and optional), with non-default values."""
    values = {name: _value_for(field.annotation, name, seed) for name, field in cls.model_fields.items()}
    return cls(**values)



# --- codec and registry --------------------------------------------------------------------------
def test_every_registered_type_can_be_built() -> None:
    kinds = registered_types()
    assert len(kinds) >= 30, "the event types did not register"
    for type_name, cls in kinds.items():
        ev = build_model(cls, seed=3)  # raises TypeError with the field name when impossible
        assert ev.type_name == type_name
        assert ev.stream(), type_name


def test_round_trip_every_registered_type(journal: Journal) -> None:
    originals = [build_model(cls, seed=i) for i, cls in enumerate(registered_types().values())]
    positions = journal.append(originals)
    assert positions == list(range(1, len(originals) + 1))
    stored = list(journal.read())
    assert [s.position for s in stored] == positions
    for original, got in zip(originals, stored, strict=True):
        assert got.type == original.type_name
        assert got.version == original.version
        assert got.stream == original.stream()
        assert got.event == original, original.type_name
        assert type(got.event) is type(original)
        assert got.raw() == orjson.loads(encode(original))
        # decode(encode(x)) == x without the journal in between, too
        assert decode(original.type_name, original.version, encode(original)) == original


def test_unknown_type_fails_loudly() -> None:
    with pytest.raises(EventDecodeError, match="unknown event type 'no.such_type'"):
        decode("no.such_type", 1, b"{}")


def test_newer_version_than_known_fails() -> None:
    ev = TaskPaused(hash="abc")
    with pytest.raises(EventDecodeError, match="newer than this AniBridge knows"):
        decode(ev.type_name, ev.version + 1, encode(ev))


@pytest.fixture()
def scratch_registry() -> Iterator[None]:
    """Lets a test register throw-away event types and upcasters, then restores the registry."""
    current, upcasters = dict(reg._CURRENT), dict(reg._UPCASTERS)
    try:
        yield
    finally:
        reg._CURRENT.clear()
        reg._CURRENT.update(current)
        reg._UPCASTERS.clear()
        reg._UPCASTERS.update(upcasters)


def test_old_version_is_upcast(tmp_path: Path, scratch_registry: None) -> None:
    class ProbeV1(Event):
        type_name: ClassVar[str] = "test.probe"
        version: ClassVar[int] = 1
        name: str

        def stream(self) -> str:
            return "test"

    register(ProbeV1)
    with Journal(tmp_path / "journal.db") as j:
        j.append([ProbeV1(name="old")])

    # A later release: version 2 renames ``name`` to ``title`` and adds ``count``.
    class ProbeV2(Event):
        type_name: ClassVar[str] = "test.probe"
        version: ClassVar[int] = 2
        title: str
        count: int

        def stream(self) -> str:
            return "test"

    del reg._CURRENT["test.probe"]
    register(ProbeV2)

    with pytest.raises(EventDecodeError, match="no upcaster for 'test.probe' from version 1"):
        decode("test.probe", 1, b'{"name": "x"}')

    @upcaster("test.probe", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data["name"], "count": 0}

    with Journal(tmp_path / "journal.db") as j:
        (stored,) = list(j.read())
        assert stored.version == 1  # stored as written, upcast on read
        assert stored.event == ProbeV2(title="old", count=0)
        assert stored.data() == {"title": "old", "count": 0}
        assert j.append([ProbeV2(title="new", count=2)]) == [2]
        assert list(j.read(after=1))[0].version == 2
    with pytest.raises(EventDecodeError, match="newer than this AniBridge knows"):
        decode("test.probe", 3, b"{}")


def test_registering_a_type_twice_is_refused(scratch_registry: None) -> None:
    class Dup(Event):
        type_name: ClassVar[str] = TaskPaused.type_name
        hash: str

    with pytest.raises(TypeError, match="registered twice"):
        register(Dup)


# --- appends -------------------------------------------------------------------------------------
def test_concurrent_appends_are_gapless_and_ordered(journal: Journal) -> None:
    threads_n, ops = 8, 60
    results: list[list[tuple[list[int], list[str]]]] = [[] for _ in range(threads_n)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(tid: int) -> None:
        rnd = random.Random(tid)
        try:
            start.wait()
            for op in range(ops):
                size = 1 if rnd.random() < 0.5 else rnd.randint(2, 25)
                hashes = [f"t{tid}-o{op}-e{k}" for k in range(size)]
                if size == 1:
                    positions = [journal.append_one(TaskPaused(hash=hashes[0]))]
                else:
                    positions = journal.append([TaskPaused(hash=h) for h in hashes])
                results[tid].append((positions, hashes))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors

    expected: dict[int, str] = {}
    for per_thread in results:
        last_seen = 0
        for positions, hashes in per_thread:
            assert len(positions) == len(hashes)
            contiguous = list(range(positions[0], positions[0] + len(positions)))
            assert positions == contiguous, "batch not contiguous"
            assert positions[0] > last_seen, "a thread's later append got an earlier position"
            last_seen = positions[-1]
            for p, h in zip(positions, hashes, strict=True):
                assert p not in expected, f"position {p} handed out twice"
                expected[p] = h
    n = len(expected)
    assert sorted(expected) == list(range(1, n + 1))
    assert journal.head() == n
    stored = list(journal.read())
    assert [s.position for s in stored] == list(range(1, n + 1))
    assert all(s.raw()["hash"] == expected[s.position] for s in stored)


def test_empty_append_returns_no_positions(journal: Journal) -> None:
    assert journal.append([]) == []
    assert journal.head() == 0


def test_update_and_delete_are_refused(journal: Journal) -> None:
    journal.append([TaskPaused(hash="a"), TaskPaused(hash="b")])
    conn = apsw.Connection(str(journal.path))
    try:
        with pytest.raises(apsw.ConstraintError, match="journal is append-only: UPDATE refused"):
            conn.execute("UPDATE events SET payload = X'00' WHERE position = 1")
        with pytest.raises(apsw.ConstraintError, match="journal is append-only: DELETE refused"):
            conn.execute("DELETE FROM events WHERE position = 2")
        with pytest.raises(apsw.ConstraintError, match="journal is append-only: DELETE refused"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()
    assert [s.raw()["hash"] for s in journal.read()] == ["a", "b"]


# --- durability ----------------------------------------------------------------------------------
_CHILD = textwrap.dedent(
    """
    import sys
    from anibridge.events import Journal
    from anibridge.events.types import TaskProgress

    j = Journal(sys.argv[1])
    i = 0
    while True:
        n = 1 if i % 5 else 3  # mostly single appends, some small batches
        batch = [TaskProgress(hash=f"k{i + k}", downloaded=i + k, total=10**9) for k in range(n)]
        for k, pos in enumerate(j.append(batch)):
            print(pos, i + k, flush=True)
        i += n
    """
)


def anibridge_cmd() -> list[str]:
    script = BIN / "anibridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "anibridge.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    from anibridge.config import Settings

    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(extra)
    return env


@pytest.mark.parametrize("round_", range(3))
def test_appends_survive_sigkill(tmp_path: Path, round_: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "journal.db"
    kill_after = random.Random().randint(200, 700)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(db)], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True, env=clean_env())
    assert child.stdout is not None
    acknowledged: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < kill_after:
            line = child.stdout.readline()
            assert line, f"child exited early with {child.poll()}"
            pos, i = map(int, line.split())
            acknowledged[pos] = i
            assert time.monotonic() < deadline, "child too slow"
        time.sleep(random.Random().random() * 0.05)  # kill at a random moment, mid-append likely
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        for line in child.stdout:  # whatever it printed before dying counts as acknowledged
            if line.endswith("\n"):
                pos, i = map(int, line.split())
                acknowledged[pos] = i
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    done = subprocess.run([*anibridge_cmd(), "verify"], env=clean_env(DATA_DIR=str(data)),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "journal OK" in done.stdout

    with Journal(db) as j:
        stored = {s.position: s for s in j.read()}
        assert j.head() >= max(acknowledged)
    assert sorted(stored) == list(range(1, len(stored) + 1))
    for pos, i in acknowledged.items():
        assert pos in stored, f"acknowledged position {pos} lost"
        ev = stored[pos].event
        assert ev == TaskProgress(hash=f"k{i}", downloaded=i, total=10**9)


# --- reading -------------------------------------------------------------------------------------
def test_read_streams_and_honours_after_and_limit(journal: Journal) -> None:
    journal.append([TaskProgress(hash=f"h{i}", downloaded=i, total=100) for i in range(1, 26)])
    it = journal.read()
    assert inspect.isgenerator(it)
    assert [s.position for s in journal.read(after=5, limit=7)] == list(range(6, 13))
    assert [s.position for s in journal.read(after=20)] == list(range(21, 26))
    assert [s.position for s in journal.read(after=3, limit=10, chunk=3)] == list(range(4, 14))
    assert list(journal.read(after=25)) == []
    assert list(journal.read(limit=0)) == []
    assert [s.position for s in journal.read(after=22, limit=100, chunk=2)] == [23, 24, 25]

    # Streaming, not a snapshot loaded up front: events appended mid-iteration (after the first
    # chunk was fetched) are still reached, chunk by chunk.
    stream = journal.read(chunk=10)
    first = [next(stream).position for _ in range(5)]
    journal.append([TaskProgress(hash=f"late{i}", downloaded=i, total=100) for i in range(10)])
    rest = [s.position for s in stream]
    assert first + rest == list(range(1, 36))


def test_read_filters_by_type(journal: Journal) -> None:
    progress = TaskProgress(hash="x", downloaded=1, total=2)
    journal.append([TaskPaused(hash="p1"), progress, TaskPaused(hash="p2")])
    got = list(journal.read(types=[TaskPaused.type_name]))
    assert [(s.position, s.raw()["hash"]) for s in got] == [(1, "p1"), (3, "p2")]
    assert [s.position for s in journal.read(types=[TaskPaused.type_name], limit=1)] == [1]


def test_wait_for_wakes_promptly_on_append(journal: Journal) -> None:
    journal.append_one(TaskPaused(hash="first"))
    woke: list[tuple[float, int]] = []

    def waiter() -> None:
        head = journal.wait_for(1, timeout=5)
        woke.append((time.monotonic(), head))

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)  # the waiter is asleep by now
    assert not woke
    appended_at = time.monotonic()
    journal.append_one(TaskPaused(hash="second"))
    t.join(5)
    assert woke, "wait_for did not return"
    woke_at, head = woke[0]
    assert head == 2
    assert woke_at - appended_at < 0.2, f"woke after {woke_at - appended_at:.3f} s"


def test_wait_for_times_out_when_nothing_is_appended(journal: Journal) -> None:
    journal.append_one(TaskPaused(hash="only"))
    t0 = time.monotonic()
    assert journal.wait_for(1, timeout=0.4) == 1
    elapsed = time.monotonic() - t0
    assert 0.4 <= elapsed < 1.0
    assert journal.wait_for(0, timeout=5) == 1  # already past: no wait at all
    assert time.monotonic() - t0 < 1.1


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from anibridge.events import Journal
    from anibridge.events.types import TaskPaused

    with Journal(sys.argv[1]) as j:
        print(j.append([TaskPaused(hash=f"other{i}") for i in range(int(sys.argv[2]))])[-1])
    """
)


def test_head_and_wait_for_see_appends_from_another_process(journal: Journal) -> None:
    journal.append_one(TaskPaused(hash="mine"))
    assert journal.head() == 1
    out = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(journal.path), "5"],
                         capture_output=True, text=True, timeout=60, env=clean_env(), check=True)
    assert out.stdout.strip() == "6"
    assert journal.head() == 6
    # our own next append continues after the other process's events
    assert journal.append_one(TaskPaused(hash="mine again")) == 7

    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(journal.wait_for(7, timeout=10)))
    t.start()
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(journal.path), "2"],
                   capture_output=True, text=True, timeout=60, env=clean_env(), check=True)
    t0 = time.monotonic()
    t.join(10)
    assert got == [9]
    assert time.monotonic() - t0 < 1.0  # noticed by the periodic re-check, not the 10 s timeout


def test_two_processes_appending_concurrently_stay_gapless(tmp_path: Path) -> None:
    """A CLI crawl next to the server: two Journal instances in two processes on one file."""
    db = tmp_path / "journal.db"
    Journal(db).close()
    script = textwrap.dedent(
        """
        import sys
        from anibridge.events import Journal
        from anibridge.events.types import TaskPaused
        with Journal(sys.argv[1]) as j:
            for i in range(150):
                j.append_one(TaskPaused(hash=f"{sys.argv[2]}-{i}"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db), name], env=clean_env(),
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b", "c")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "could not write" not in err, err
    with Journal(db) as j:
        stored = list(j.read())
    assert [s.position for s in stored] == list(range(1, 451))
    assert sorted(s.raw()["hash"] for s in stored) == sorted(f"{n}-{i}" for n in "abc" for i in range(150))


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    from anibridge.events.journal import JournalClosed

    j = Journal(tmp_path / "journal.db")
    j.close()
    with pytest.raises(JournalClosed):
        j.append_one(TaskPaused(hash="late"))
