"""Writes racing on one key, on SQLite and on a real PostgreSQL, from threads and from separate processes.

- Feedback: moderators saving the same comment at the same moment: one current row, every write in the
  history as an unbroken chain (each change's old labels are the previous change's new ones: nothing lost or
  overwritten unseen), and the current row is one whole write, the last one.
- Inbox: VK's retried events arriving at the same moment (VK re-sends an event until it hears "ok", so
  retries can land on several workers at once), then concurrent edits: exactly one row, one event row per
  event id, and every edit in the history chain.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from training.runtime.feedback.rules import LabelRules
from training.runtime.feedback.store import FeedbackStore
from training.runtime.feedback.table import FeedbackHistoryRow, FeedbackRow
from training.runtime.taxonomy import PROJECT_ROOT, default_taxonomy

TAX = default_taxonomy()
COMMENT_ID = "vk-1-2-3"
THREADS = 8
WRITES_PER_THREAD = 3


def write(worker: int, k: int) -> tuple[str, dict, str]:
    """Write k of a worker: its own text, moderator and labels, so a row mixing two writes shows."""
    n = worker * 100 + k
    flags = {f: (n >> i) & 1 for i, f in enumerate(TAX.flags) if f != TAX.no_question_flag}
    labels = {
        **flags,
        TAX.no_question_flag: 0,
        "topic": TAX.topic_ids[n % len(TAX.topic_ids)],
        TAX.urgent: (n >> 3) & 1,
    }
    return f"Комментарий {n}: когда починят лифт?", labels, f"модератор-{worker}"


def check_one_row_and_full_history(url: str, writes: list[tuple[str, dict, str]]) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(FeedbackRow)).all()
            history = conn.execute(
                select(FeedbackHistoryRow)
                .where(FeedbackHistoryRow.comment_id == COMMENT_ID)
                .order_by(FeedbackHistoryRow.id)
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows  # no duplicate current row
    normalise = LabelRules(TAX).normalise
    written = {(t, repr(normalise(lab)), m) for t, lab, m in writes}
    assert len(history) == len(writes)  # every write is in the history
    assert {(h.new_text, repr(h.new_labels), h.moderator) for h in history} == written
    assert history[0].old_labels is None and history[0].old_text is None
    for prev, cur in zip(history, history[1:], strict=False):
        # Each writer saw the previous committed write: no update was lost.
        assert cur.old_labels == prev.new_labels and cur.old_text == prev.new_text
    row = rows[0]
    last = history[-1]
    assert (row.text, row.labels, row.moderator) == (last.new_text, last.new_labels, last.moderator)
    assert (row.text, repr(row.labels), row.moderator) in written  # one whole write, not a mix


def test_threads_upserting_one_id(db_url):
    store = FeedbackStore(db_url)
    barrier = threading.Barrier(THREADS)

    def worker(w: int) -> list[dict]:
        barrier.wait()
        return [store.upsert(COMMENT_ID, *write(w, k)) for k in range(WRITES_PER_THREAD)]

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = [r for batch in pool.map(worker, range(THREADS)) for r in batch]
    finally:
        store.close()
    assert sum(r["created"] for r in results) == 1  # exactly one writer inserted
    assert all(r["changed"] for r in results)
    check_one_row_and_full_history(db_url, [write(w, k) for w in range(THREADS) for k in range(WRITES_PER_THREAD)])


# ------------------------------------------------------------------------------------- separate processes
# Each process has its own engine and pool, as uvicorn workers do; they open the store on a fresh database at
# the same instant (each creates the tables: the start-up race), then write at the same instant.
PHASES = ("open", "write")


def child_main() -> None:
    """A worker process: `<kind> <url> <worker> <sync dir>`; prints its outcomes as JSON."""
    kind, url, worker, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])

    def barrier(phase: str) -> None:
        (sync / f"at-{phase}-{worker}").touch()
        deadline = time.monotonic() + 60
        while not (sync / f"go-{phase}").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"no go for {phase}")
            time.sleep(0.002)

    barrier("open")
    out: list
    if kind == "feedback":
        store = FeedbackStore(url)
        barrier("write")
        out = [store.upsert(COMMENT_ID, *write(worker, k))["created"] for k in range(PROCESS_WRITES)]
        store.close()
    else:
        from training.runtime.inbox.store import InboxStore

        inbox = InboxStore(url)
        barrier("write")
        out = [r.outcome for r in inbox_deliveries(inbox, worker)]
        inbox.close()
    print(json.dumps(out))


def run_processes(kind: str, url: str, sync: Path, n: int = 3) -> list[list]:
    """n child processes released together at each of PHASES; their printed outcomes."""
    here = Path(__file__)
    code = f"import sys; sys.path.insert(0, {str(here.parent)!r}); import {here.stem} as t; t.child_main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, kind, url, str(w), str(sync)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(n)
    ]
    try:
        for phase in PHASES:
            deadline = time.monotonic() + 60
            while len(list(sync.glob(f"at-{phase}-*"))) < n:
                failed = [p for p in procs if p.poll() is not None]
                assert not failed, [p.communicate() for p in failed]
                assert time.monotonic() < deadline, f"workers did not reach {phase}"
                time.sleep(0.005)
            (sync / f"go-{phase}").touch()
        outputs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * n, [err[-3000:] for _, err in outputs]
    return [json.loads(out) for out, _ in outputs]


PROCESS_WRITES = 4


def test_processes_upserting_one_id(db_url, tmp_path: Path):
    created = run_processes("feedback", db_url, tmp_path, n=3)
    assert sum(c for per in created for c in per) == 1
    check_one_row_and_full_history(db_url, [write(w, k) for w in range(3) for k in range(PROCESS_WRITES)])


# ------------------------------------------------------------------------------------- the inbox
INBOX_REF = {"group_id": 1, "kind": "wall", "owner_id": -1, "object_id": 10, "comment_id": 100}
ORIGINAL = "Нет горячей воды на Ленина 5 с понедельника"


def inbox_deliveries(inbox, worker: int) -> list:
    """What one worker receives: VK's retry of the new-comment event (twice: it came back before "ok" got
    through), then an edit of its own."""
    from training.runtime.inbox.records import MODE_EDIT, CommentRef, IncomingComment

    ref = CommentRef(**INBOX_REF)
    date = datetime(2024, 12, 2, 9, 30, tzinfo=UTC)
    new = IncomingComment(ref, 555, date, ORIGINAL)
    edit = IncomingComment(ref, 555, date, f"{ORIGINAL} (правка {worker})")
    return [
        inbox.record_comment(new, "wall_reply_new", "retried-event-1"),
        inbox.record_comment(new, "wall_reply_new", "retried-event-1"),
        inbox.record_comment(edit, "wall_reply_edit", f"edit-{worker}", MODE_EDIT),
    ]


def check_inbox(url: str, outcomes: list[str], workers: int) -> None:
    from training.runtime.inbox.records import DUPLICATE, EDITED, NEW
    from training.runtime.inbox.store import InboxStore

    assert sorted(o for o in outcomes if o != EDITED) == sorted([NEW] + [DUPLICATE] * (2 * workers - 1))
    assert outcomes.count(EDITED) == workers
    inbox = InboxStore(url)
    try:
        total, [row] = inbox.list()
        assert total == 1  # one row for the comment, however many deliveries
        assert inbox.count_events() == 1 + workers
        rec = inbox.get(row["id"])
    finally:
        inbox.close()
    assert rec is not None and rec["version"] == 1 + workers
    texts = [h["old_text"] for h in rec["history"]] + [rec["text"]]
    # A chain from the original through every edit: none lost, none applied twice.
    assert texts[0] == ORIGINAL
    assert sorted(texts[1:]) == sorted(f"{ORIGINAL} (правка {w})" for w in range(workers))
    assert [h["version"] for h in rec["history"]] == list(range(1, workers + 1))


def test_inbox_threads_receiving_retried_events(db_url):
    from training.runtime.inbox.store import InboxStore

    inbox = InboxStore(db_url)
    barrier = threading.Barrier(THREADS)

    def worker(w: int) -> list[str]:
        barrier.wait()
        return [r.outcome for r in inbox_deliveries(inbox, w)]

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = [o for per in pool.map(worker, range(THREADS)) for o in per]
    finally:
        inbox.close()
    check_inbox(db_url, outcomes, THREADS)


def test_inbox_processes_receiving_retried_events(db_url, tmp_path: Path):
    outcomes = run_processes("inbox", db_url, tmp_path, n=3)
    check_inbox(db_url, [o for per in outcomes for o in per], 3)


# ------------------------------------------------------------------------------------- SQLite's WAL switch
WAL_CHILD = """
import sys, time
from pathlib import Path
from sqlalchemy import text
from training.runtime.feedback.table import make_engine
sync, worker, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for r in range(rounds):
    deadline = time.monotonic() + 60
    while not (sync / f"go-{r}").exists():
        assert time.monotonic() < deadline, "no go"
        time.sleep(0.0005)
    engine = make_engine(f"sqlite:///{sync / f'db-{r}.sqlite'}")
    with engine.begin() as conn:  # the connect hook switches the fresh file to WAL; then a write
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
    engine.dispose()
    (sync / f"done-{r}-{worker}").write_text(mode)
"""


@pytest.mark.db
def test_processes_opening_one_fresh_sqlite_file(tmp_path: Path):
    """Uvicorn workers opening one new SQLite file at the same instant all race to switch it to WAL; SQLite
    answers that race with an immediate "database is locked" (no busy wait), which make_engine retries."""
    workers, rounds = 4, 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WAL_CHILD, str(tmp_path), str(w), str(rounds)],
            cwd=PROJECT_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    try:
        for r in range(rounds):
            (tmp_path / f"go-{r}").touch()
            deadline = time.monotonic() + 60
            while len(list(tmp_path.glob(f"done-{r}-*"))) < workers:
                failed = [p for p in procs if p.poll() not in (None, 0)]
                assert not failed, [p.communicate()[1][-1500:] for p in failed]
                assert time.monotonic() < deadline, f"round {r} did not finish"
                time.sleep(0.005)
        errors = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * workers, [e[-1500:] for e in errors]
    assert {f.read_text() for f in tmp_path.glob("done-*")} == {"wal"}
    for r in range(rounds):
        con = sqlite3.connect(tmp_path / f"db-{r}.sqlite")
        try:
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == workers  # every worker's write
        finally:
            con.close()
