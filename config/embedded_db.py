"""The embedded PostgreSQL server used when DATABASE_URL is unset.

The server (from the ``pgserver`` package) keeps its data under ``.data/pg``. The first
process that needs it starts it; later processes attach to the running server; the last
process to exit stops it. ``make run`` keeps one process attached for the whole session,
so its steps (migrate, seed, web server, queue cluster) share one server start.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

DATABASE_NAME = "loyalty"


def _forget_dead_processes(pgdata: Path) -> None:
    """Drop pids of processes that died without detaching, so the server can still stop."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start(data_dir: Path, *, database: str = DATABASE_NAME) -> dict:
    """Start (or attach to) the embedded server and return Django DATABASES settings for it."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = data_dir / "pg"
    data_dir.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_processes(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    _create_database(str(socket_dir), database)
    return {
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": str(info.port or ""),
    }


def _create_database(host: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
