"""Entry point for gunicorn (`wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""

import sys

import config
from app import create_app
from app.logs import configure

try:
    settings = config.load()
except config.ConfigError as exc:
    sys.exit(f"error: {exc}")

configure(settings["LOG_LEVEL"], config.secrets(settings))
app = create_app(settings)
