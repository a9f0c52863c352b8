"""Entry point for gunicorn (`wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""

import sys

import config
from app import create_app
from app.logs import configure

# Read once: the environment over .env; the emulator's fallback below sees the same values.
environ = config.environment()
try:
    settings = config.load(environ)
except config.ConfigError as exc:
    # Without settings only the terminal emulator runs: it needs no Facebook app and no key.
    if "chat" not in sys.argv[1:]:
        sys.exit(f"error: {exc}")
    from app.emulator.session import settings_without_env

    try:
        settings = settings_without_env(environ)
    except config.ConfigError as invalid:
        sys.exit(f"error: {invalid}")

configure(settings["LOG_LEVEL"], config.secrets(settings), settings["LOG_FORMAT"])
app = create_app(settings)
