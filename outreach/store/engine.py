"""Open a store by URL and bring its schema up to date with Alembic.

SQLite transactions: every ``Store.session()`` starts with ``BEGIN IMMEDIATE``, so a unit of
work takes the write lock first and waits for it (the busy timeout) instead of failing. A
deferred transaction that reads and then writes cannot wait: when another writer committed
in between, its snapshot is stale and SQLite answers "database is locked" at once. Read-only
work uses ``Store.read()``: a deferred transaction on a ``query_only`` connection, which
never blocks nor waits for writers.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import redact_url
from outreach.errors import StoreError
from outreach.store.models import Meta

MIGRATIONS = Path(__file__).parent / "migrations"
# The files SQLite keeps beside the database; it gives each the mode of the database file.
SIDE_FILES = ("-wal", "-shm", "-journal")
WAL_AUTOCHECKPOINT = 1000  # SQLite's default, in pages
BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another writer before giving up
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: changes at every boot
READ_ONLY = "outreach_read_only"  # execution option (and connection info key) of read sessions


class Store:
    """A database with an up-to-date schema; hands out one session per unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        reader = engine.execution_options(**{READ_ONLY: True})
        self._readers = sessionmaker(reader, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: never waits for a writer (SQLite refuses writes in it)."""
        with self._readers.begin() as session:
            yield session

    def salt(self) -> str:
        """The store's secret salt for address hashes (made when the store was created)."""
        with self.read() as session:
            value = session.scalar(select(Meta.value).where(Meta.key == "hash_salt"))
        if value is None:
            raise StoreError("the store has no hash salt; it was not created by `outreach init`")
        return value

    def durability_epoch(self) -> str:
        """A name for the span in which a commit that skipped the disk flush still stands.

        SQLite: this boot of the machine (an unflushed commit survives the death of a process,
        not of the operating system). PostgreSQL: the server's start (a commit made with
        ``synchronous_commit = off`` can vanish only when the server stops). Empty when this
        machine cannot tell its boots apart; then nothing skips the flush.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as connection:
                started = connection.scalar(text("select pg_postmaster_start_time()"))
            return f"postgresql started {started.isoformat() if started else '?'}"
        try:
            boot = BOOT_ID.read_text().strip()
        except OSError:
            return ""
        return f"boot {boot}" if boot else ""

    @contextmanager
    def progress_connection(self, epoch: str, *, wait: bool = True) -> Iterator[Connection]:
        """A connection for small commits that must outlive this process, many a second.

        With a known ``epoch`` on SQLite its commits skip the disk flush (``synchronous=NORMAL``
        in WAL mode); the next flushed commit of any connection makes them durable too. Without
        ``wait`` it never waits: a held write lock fails at once (SQLITE_BUSY), and it leaves
        checkpoints to the other connections.
        """
        with self.engine.connect() as connection:
            # Pragmas go to the driver's connection: outside any transaction.
            raw: Any = connection.connection.driver_connection
            sqlite = self.engine.dialect.name == "sqlite"
            fast = bool(epoch) and sqlite
            if sqlite and connection.connection.info.get(READ_ONLY):
                raw.execute("PRAGMA query_only=0")  # steps begin on the driver: no begin event
                connection.connection.info[READ_ONLY] = False
            if fast:
                raw.execute("PRAGMA synchronous=NORMAL")
            if sqlite and not wait:
                raw.execute("PRAGMA busy_timeout=0")
                raw.execute("PRAGMA wal_autocheckpoint=0")
            try:
                yield connection
            finally:  # the pooled connection goes back as every other one is
                if fast:
                    raw.execute("PRAGMA synchronous=FULL")
                if sqlite and not wait:
                    raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                    raw.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed `sending` claim must survive a power loss, or exactly-once fails.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()
    # We begin transactions ourselves (_sqlite_begin), not the driver's deferred BEGIN.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    read = bool(connection.get_execution_options().get(READ_ONLY))
    info = connection.connection.info
    if info.get(READ_ONLY, False) != read:
        connection.exec_driver_sql(f"PRAGMA query_only={int(read)}")
        info[READ_ONLY] = read
    connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names; None for other engines and in-memory databases."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def protect_sqlite_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does; refuse one other users can open.

    SQLite creates its -wal, -shm and -journal files with the database file's mode, so a
    0600 database keeps them 0600 too, whatever the umask.
    """
    if not path.parent.exists():
        raise StoreError(
            f"database.url: folder {path.parent} does not exist; create it or fix the url"
        )
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database ({exc.strerror})") from None
    files = [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)]
    open_to_others = []
    for file in files:
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            open_to_others.append((file, mode))
    if open_to_others:
        first, mode = open_to_others[0]
        names = " ".join(str(file) for file, _ in open_to_others)
        raise StoreError(
            f"{first}: other users can read it (mode {mode:o}) and it holds candidates' data "
            f"and reviewers' password hashes; run `chmod 600 {names}` to protect it"
        )


def make_engine(url: str, password: str | None = None) -> Engine:
    """Create the engine with the settings each backend needs (and the password, if given)."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            protect_sqlite_file(path)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    target: str | URL = url
    if password:  # kept out of the URL text, so no message can show it
        target = make_url(url).set(password=password)
    return create_engine(target, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs our migrations on this engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def open_store(url: str, *, migrate: bool = True, password: str | None = None) -> Store:
    """Open the database at url and apply pending migrations; refuse a newer schema.

    ``password`` (from the environment or the keys file) is added to a server URL's login.
    """
    try:
        engine = make_engine(url, password)
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(redact_url(f"database.url {url!r} is not usable: {exc}")) from None
    config = alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(
            redact_url(f"cannot open the database ({reason}); check database.url")
        ) from None
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        engine.dispose()
        raise StoreError(
            f"the database is at schema {unknown[0]}, newer than this outreach knows; "
            "upgrade outreach (pip install -U outreach) before using it"
        )
    if migrate and set(current) != set(script.get_heads()):
        command.upgrade(config, "head")
    return Store(engine)
