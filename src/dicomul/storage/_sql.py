"""The two databases the archive index runs on, behind one small interface: SQLite (a
file, the default) and PostgreSQL (a server several archive processes share, through
psycopg 3). Statements are written once with ``?`` placeholders; what differs (the
wildcard operator and its escaping, upsert, string aggregation, the schema version) is
here. Each connection is used behind a lock: the index is called from a thread pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Database", "SQLiteDatabase", "PostgresDatabase", "open_database", "GroupWriter"]


class Database:
    """One connection (see the module docstring)."""

    #: The aggregate of the distinct Modality values of a group, comma-separated.
    modalities = "GROUP_CONCAT(DISTINCT Modality)"
    #: The type of the text columns: compared byte by byte whatever the server's locale
    #: (ranges, and prefix wildcards scanning an index, depend on it).
    text = "TEXT"
    where = ""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def _sql(self, sql: str) -> str:
        return sql

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement; its rows."""
        raise NotImplementedError

    def write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement for each row, in one transaction."""
        raise NotImplementedError

    #: Whether :meth:`write_now` can ever write (SQLite: yes; over a network: no).
    writes_now = False

    def write_now(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        """:meth:`write` if that needs no wait (no lock held, no network): True when
        written, False when nothing was done and :meth:`write` must do it."""
        return False

    def wildcard(self, column: str, pattern: str) -> tuple[str, str]:
        """A case-sensitive C-FIND wildcard match (``*``, ``?``): (SQL, parameter)."""
        raise NotImplementedError

    def upsert(self, table: str, columns: Sequence[str], key: str) -> str:
        """INSERT that replaces the row with the same ``key``."""
        raise NotImplementedError

    def schema_version(self) -> int | None:
        """The layout version stored, or None for an empty database."""
        raise NotImplementedError

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One process at a time (several qrscp workers start together): the schema is
        checked and made inside."""
        raise NotImplementedError
        yield

    def set_schema_version(self, version: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _commit(con: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """In the transaction just begun on ``con``: the statement for each row, then
    COMMIT (ROLLBACK and the error if anything fails)."""
    try:
        con.executemany(sql, rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


class SQLiteDatabase(Database):
    """An SQLite file in WAL mode (readers do not wait for the writer).

    :meth:`write_now` has a connection of its own that never waits for the file's write
    lock (another connection or process writing: False at once) and never checkpoints:
    in WAL mode with synchronous=NORMAL its commits write to the page cache and sync
    nothing. Every CHECKPOINT_EVERY of its commits a short-lived thread, on a connection
    of its own that waits at most a second, copies the WAL back into the database and
    restarts it (a RESTART checkpoint: a passive one never catches up with a writer that
    goes on committing, and the WAL would grow without end), then makes the first
    commit of the new WAL itself, which syncs its header; meanwhile write_now says
    False. (Another process's write_now may still make that first commit.)"""

    CHECKPOINT_EVERY = 256
    writes_now = True

    def __init__(self, path: str) -> None:
        super().__init__()
        self.where = path
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._now: sqlite3.Connection | None = None  # write_now's, made on first use
        self._now_lock = threading.Lock()
        self._closed = False
        self._commits = 0  # write_now commits since the last checkpoint started
        self._checkpointing = threading.Lock()

    def write_now(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        if not self._now_lock.acquire(blocking=False):
            return False
        try:
            if self._closed or self._checkpointing.locked():  # (a checkpoint: not now)
                return False
            if self._now is None:
                self._now = sqlite3.connect(
                    self.where, check_same_thread=False, isolation_level=None, timeout=0
                )
                self._now.execute("PRAGMA synchronous=NORMAL")
                self._now.execute("PRAGMA wal_autocheckpoint=0")
            try:
                self._now.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # locked by another writer: not now
                return False
            _commit(self._now, sql, rows)
            self._commits += 1
            if self._commits >= self.CHECKPOINT_EVERY and self._checkpointing.acquire(False):
                self._commits = 0
                try:
                    threading.Thread(target=self._checkpoint, name="dicomul-checkpoint",
                                     daemon=True).start()  # fmt: skip
                except RuntimeError:  # (no thread now: the next commits try again)
                    self._checkpointing.release()
            return True
        finally:
            self._now_lock.release()

    def _checkpoint(self) -> None:  # in its own thread
        try:
            con = sqlite3.connect(self.where, isolation_level=None, timeout=1.0)
            try:
                con.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                version = con.execute("PRAGMA user_version").fetchone()[0]
                con.execute("BEGIN IMMEDIATE")  # the new WAL's first commit (and sync)
                con.execute(f"PRAGMA user_version={int(version)}")
                con.execute("COMMIT")
            finally:
                con.close()
        except sqlite3.Error:  # busy for a second, closed meanwhile: the next one catches up
            pass
        finally:
            self._checkpointing.release()

    def _wal(self) -> None:
        """Switch the file to WAL (it stays so). The switch needs the file alone and,
        unlike a transaction, does not wait for a connection that is writing (another
        worker making the schema): "database is locked" at once. So wait for that writer
        the way a transaction does (BEGIN IMMEDIATE waits up to the timeout), then again."""
        for _attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        self._db.execute("PRAGMA journal_mode=WAL")  # (the last try: its error, if any)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock:
            self._db.execute("BEGIN")
            _commit(self._db, sql, rows)

    def wildcard(self, column: str, pattern: str) -> tuple[str, str]:
        return f"{column} GLOB ?", "".join("[[]" if c == "[" else c for c in pattern)

    def upsert(self, table: str, columns: Sequence[str], key: str) -> str:
        return (
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self.query("BEGIN IMMEDIATE")  # the write lock, waiting up to the 30 s timeout
        try:
            yield
        except BaseException:
            self.query("ROLLBACK")
            raise
        self.query("COMMIT")

    def schema_version(self) -> int | None:
        tables = self.query("SELECT COUNT(*) FROM sqlite_master")[0][0]
        return int(self.query("PRAGMA user_version")[0][0]) if tables else None

    def set_schema_version(self, version: int) -> None:
        self.query(f"PRAGMA user_version={int(version)}")

    def close(self) -> None:
        with self._now_lock:
            self._closed = True
            if self._now is not None:
                self._now.close()
                self._now = None
        with self.lock:
            self._db.close()


class PostgresDatabase(Database):
    """A PostgreSQL database (``postgresql://user@host:port/dbname`` or a libpq
    connection string), shared by every process that indexes into it."""

    modalities = "string_agg(DISTINCT Modality, ',')"
    text = 'TEXT COLLATE "C"'

    def __init__(self, dsn: str) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise ValueError(
                "a PostgreSQL index needs psycopg: pip install 'dicomul[postgresql]'"
            ) from None
        self.where = dsn
        self._db = psycopg.connect(dsn, autocommit=True)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock, self._db.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def wildcard(self, column: str, pattern: str) -> tuple[str, str]:
        out = []
        for c in pattern:
            out.append("\\" + c if c in "%_\\" else "%" if c == "*" else "_" if c == "?" else c)
        return f"{column} LIKE ?", "".join(out)

    def upsert(self, table: str, columns: Sequence[str], key: str) -> str:
        rest = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {rest}"
        )

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._db.transaction():
            self.query("SELECT pg_advisory_xact_lock(7433)")  # (released at commit)
            yield

    def schema_version(self) -> int | None:
        self.query("CREATE TABLE IF NOT EXISTS dicomul_schema (version INTEGER NOT NULL)")
        rows = self.query("SELECT version FROM dicomul_schema")
        if rows:
            return int(rows[0][0])
        exists = self.query("SELECT to_regclass('instances') IS NOT NULL")[0][0]
        return 0 if exists else None

    def set_schema_version(self, version: int) -> None:
        self.query("DELETE FROM dicomul_schema")
        self.query("INSERT INTO dicomul_schema (version) VALUES (?)", (int(version),))

    def close(self) -> None:
        with self.lock:
            self._db.close()


def open_database(where: str) -> Database:
    """A PostgreSQL database for a ``postgresql://`` URL or a ``host=...`` connection
    string, else an SQLite file at that path."""
    if where.startswith(("postgresql://", "postgres://")) or "host=" in where:
        return PostgresDatabase(where)
    return SQLiteDatabase(where)


class GroupWriter:
    """One-row writes from many threads (a server's handler pool), committed together:
    the first writer to find nobody committing commits every row queued by then in one
    transaction, the others wait for it and return when theirs is in (a write returns
    only once committed). Under load a commit carries many rows, so the per-row cost of
    a transaction, and of each thread's wait for the interpreter lock after it, is paid
    once per batch. A batch that fails is retried row by row: only a bad row's writer
    gets the error."""

    def __init__(self, db: Database, sql: str) -> None:
        self.db, self.sql = db, sql
        self._cond = threading.Condition()
        self._queue: list[tuple[int, Sequence[Any]]] = []
        self._next = 0  # ticket of the next row queued
        self._done = 0  # every ticket below is committed (or failed)
        self._failed: dict[int, BaseException] = {}
        self._busy = False

    def write(self, row: Sequence[Any]) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            self._queue.append((ticket, row))
            while self._busy and self._done <= ticket:
                self._cond.wait()
            if self._done > ticket:
                error = self._failed.pop(ticket, None)
                if error is not None:
                    raise error
                return
            self._busy = True
            batch, self._queue = self._queue, []
        failed: dict[int, BaseException] = {}
        try:
            self.db.write(self.sql, [r for _t, r in batch])
        except Exception:  # noqa: BLE001 - retried one by one: only bad rows fail
            for t, r in batch:
                try:
                    self.db.write(self.sql, [r])
                except Exception as exc:  # noqa: BLE001 - given to that row's writer
                    failed[t] = exc
        with self._cond:
            self._busy = False
            self._done = batch[-1][0] + 1
            self._failed.update(failed)
            self._cond.notify_all()
        error = self._failed.pop(ticket, None)
        if error is not None:
            raise error
