"""Settings fail safe: production (DEBUG off, the default outside the tests) refuses to start half-configured,
and says what to set."""

import json
import runpy
import subprocess

import pytest

from tests.production.processes import PYTHON, ROOT, database_url, environment, production_environment

SETTINGS = str(ROOT / "config" / "settings.py")
REPORTED = ["DEBUG", "SMS_BACKEND", "EMAIL_BACKEND", "DEFAULT_FROM_EMAIL", "ACCOUNT_DEFAULT_HTTP_PROTOCOL"]


def start(env: dict) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process, as manage.py or gunicorn would, and report some of them."""
    script = (
        "import json, config.settings as s\n"
        f"print(json.dumps({{name: getattr(s, name) for name in {REPORTED!r}}} "
        "| {'CONN_MAX_AGE': s.DATABASES['default']['CONN_MAX_AGE']}))"
    )
    return subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr.split("ImproperlyConfigured:", 1)[1]


def load_here(monkeypatch, **env) -> dict:
    """Run the settings module in this (test) process with `env`, returning its names."""
    monkeypatch.setenv("DATABASE_URL", database_url())
    for name in ("DEBUG", "EMAIL_URL", "CONN_MAX_AGE", "DEFAULT_FROM_EMAIL", "SERVER_EMAIL", "SENTRY_DSN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(SETTINGS)


def test_without_debug_a_process_is_production_and_says_everything_it_misses(db):
    message = refusal(start(environment(DEBUG=None)))

    assert "SECRET_KEY is missing" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(50))"' in message
    assert "SMS_BACKEND is not set" in message
    assert "EMAIL_URL is not set" in message
    assert "set DEBUG=true" in message


@pytest.mark.parametrize(
    "key",
    [
        "",
        "dev-only-insecure-key-change-me-in-production",
        "too-short-to-be-safe",
        "ab" * 40,  # long but only two different characters
        "django-insecure-" + "k3y-Gen3rated-By-startproject-0123456789abcdef",
    ],
    ids=["empty", "development", "short", "repetitive", "django-insecure"],
)
def test_a_weak_secret_key_is_refused(db, key):
    message = refusal(start(production_environment(SECRET_KEY=key)))

    assert "SECRET_KEY" in message
    assert "secrets.token_urlsafe(50)" in message
    assert "SMS_BACKEND" not in message and "EMAIL_URL" not in message


def test_debug_false_with_everything_set_starts_in_production_mode(db):
    result = start(production_environment(DEFAULT_FROM_EMAIL="rewards@clinic.example"))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)

    assert values["DEBUG"] is False
    assert values["SMS_BACKEND"] == "console"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["CONN_MAX_AGE"] == 60
    assert values["DEFAULT_FROM_EMAIL"] == "rewards@clinic.example"
    assert values["ACCOUNT_DEFAULT_HTTP_PROTOCOL"] == "https"  # links in emails, whatever the proxy says


def test_the_test_run_counts_as_development_when_debug_is_not_set(monkeypatch):
    names = load_here(monkeypatch)

    assert names["DEBUG"] is True
    assert names["SECRET_KEY"].startswith("dev-only")
    assert names["EMAIL_BACKEND"] == "django.core.mail.backends.locmem.EmailBackend"
    assert names["SMS_BACKEND"] == "locmem"


def test_development_prints_emails_and_keeps_no_connections(monkeypatch):
    names = load_here(monkeypatch, DEBUG="true", BASE_DOMAIN="loyalty.example")

    assert names["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    assert names["DEFAULT_FROM_EMAIL"] == "no-reply@loyalty.example"
    assert names["SERVER_EMAIL"] == "no-reply@loyalty.example"


def test_conn_max_age_comes_from_the_environment(monkeypatch):
    names = load_here(monkeypatch, DEBUG="true", CONN_MAX_AGE="15")
    assert names["DATABASES"]["default"]["CONN_MAX_AGE"] == 15


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mailer:p%40ss%2Fword@smtp.example.com:587",
            {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "smtp.example.com",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "mailer",
                "EMAIL_HOST_PASSWORD": "p@ss/word",
                "EMAIL_USE_TLS": False,
                "EMAIL_USE_SSL": False,
            },
        ),
        ("smtp+tls://u:p@smtp.example.com:587", {"EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False}),
        ("smtp+ssl://u:p@smtp.example.com:465", {"EMAIL_USE_SSL": True, "EMAIL_USE_TLS": False, "EMAIL_PORT": 465}),
        ("smtp://localhost", {"EMAIL_HOST": "localhost", "EMAIL_PORT": 25, "EMAIL_HOST_USER": ""}),
        ("consolemail://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("locmemmail://", {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}),
    ],
)
def test_email_url_is_parsed(monkeypatch, url, expected):
    names = load_here(monkeypatch, DEBUG="true", EMAIL_URL=url)
    assert {name: names[name] for name in expected} == expected


def test_an_email_url_with_an_unknown_scheme_is_refused(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL has an unknown scheme 'sendmail'"):
        load_here(monkeypatch, DEBUG="true", EMAIL_URL="sendmail://localhost")


def test_check_deploy_is_clean_with_production_settings(db):
    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "System check identified no issues" in output
