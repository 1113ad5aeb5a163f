"""The embedded PostgreSQL server used when DATABASE_URL is unset.

The server (from the ``pgserver`` package) keeps its data under ``.data/pg``. The first
command that needs it starts it and later commands reuse it. ``make run`` stops it when you
press Ctrl-C, the test run stops it if the test run started it, and ``make stop-db`` stops it
by hand.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

DATABASE_NAME = "loyalty"

# Whether this process started the server (rather than finding it running).
started_here = False
_server = None


def _pgserver():
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.utils import PostmasterInfo
    return pgserver, PostmasterInfo


def start(data_dir: Path, *, database: str = DATABASE_NAME) -> dict:
    """Start (or reuse) the embedded server and return Django DATABASES settings for it."""
    global started_here, _server
    pgserver, PostmasterInfo = _pgserver()
    pgdata = data_dir / "pg"
    data_dir.mkdir(parents=True, exist_ok=True)
    running = pgdata.exists() and (info := PostmasterInfo.read_from_pgdata(pgdata)) is not None and info.is_running()
    # cleanup_mode=None: the server outlives this process, for the next command to reuse.
    _server = pgserver.get_server(pgdata, cleanup_mode=None)
    started_here = not running
    info = _server.get_postmaster_info()
    _create_database(str(info.socket_dir), str(info.port), database)
    return {
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port),
    }


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it is running; returns whether it was."""
    _pgserver_module, PostmasterInfo = _pgserver()
    from pgserver._commands import pg_ctl

    pgdata = data_dir / "pg"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs PostgreSQL as this user under root
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _create_database(host: str, port: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    import sys

    here = Path(__file__).resolve().parent.parent
    data = Path(os.environ.get("DATA_DIR", here / ".data"))
    if sys.argv[1:] == ["stop"]:
        print("Embedded PostgreSQL stopped." if stop(data) else "Embedded PostgreSQL was not running.")
    else:
        sys.exit("usage: python -m config.embedded_db stop")
