"""gunicorn's settings for the web process: `gunicorn config.wsgi` from the project root reads this file.

Every value comes from the environment (docs/operations.md); command-line options still win.
"""

import os
import sys

# The project's modules, also when gunicorn is started from elsewhere with --config or --chdir.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from practices.log_context import logging_config


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers limit them)
    except AttributeError:
        return os.cpu_count() or 1


bind = f"0.0.0.0:{_int('PORT', 8000)}"
# Sync workers, one request each. 2 × cores + 1 keeps the cores busy while some wait on PostgreSQL; capped
# because every worker holds a database connection of its own (mind max_connections with several hosts).
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, 12))
# A request still running after this many seconds has its worker killed and restarted.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On a restart or a deploy, requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Keep-alive behind a load balancer: longer than nothing, shorter than the balancer's own idle timeout.
keepalive = 5
# Recycle each worker after about this many requests (a slow leak never grows for long); the jitter keeps
# the workers from restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10
# Which proxy addresses may say the request came over HTTPS (X-Forwarded-Proto); "*" when the proxy's
# address is not fixed and nothing else can reach the port.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No control socket (gunicornc): nothing here uses it, and its default path is shared by every gunicorn of
# the same user on the machine (tests and benchmarks run several at once).
control_socket_disable = True
# Heartbeat files in memory, not on a disk that may be slow or read-only in a container.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# One line per request on stdout with the request id the app sent back (X-Request-ID), so an access line
# leads to the application's lines for the same request. Once the app is loaded, its LOGGING writes these
# lines in its own format (text or JSON, LOG_FORMAT). The path without its query string: staff search
# patients by phone number and name.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (start, stop, worker restarts and timeouts) in the same format as the app's.
logconfig_dict = logging_config(
    log_format="json" if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "text",
    level=loglevel.upper(),
)
