"""ProjectionReader.snapshot: one read transaction for every query of a request, nested or not, while
another connection keeps writing the file (WAL)."""

from __future__ import annotations

from pathlib import Path

from anibridge.events.journal import open_connection
from anibridge.projections.reader import ProjectionReader


def test_snapshot_pins_one_state_for_every_query_and_nests(tmp_path: Path) -> None:
    base = tmp_path / "p.db"
    writer = open_connection(base)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = ProjectionReader(base)

    def count() -> int:
        return int(reader.connection().execute("SELECT count(*) FROM t").fetchone()[0])

    with reader.snapshot():
        assert count() == 1
        writer.execute("INSERT INTO t VALUES (2)")
        assert count() == 1  # the write is not seen inside the snapshot
        with reader.snapshot() as inner:  # nesting joins the outer transaction
            assert inner is reader.connection()
            assert count() == 1
        writer.execute("INSERT INTO t VALUES (3)")
        assert count() == 1
    assert count() == 3  # and is seen once it ends
    # an exception inside still ends the transaction
    try:
        with reader.snapshot():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    writer.execute("INSERT INTO t VALUES (4)")
    assert count() == 4
    writer.close()
