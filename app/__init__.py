"""The Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import openai
from flask import Flask

from . import escalation
from .erasure import Erasure
from .facebook import GraphClient, instagram_accounts, page_tokens
from .llm import ChatModel, make_client
from .pipeline import Pipeline
from .settings import Settings
from .store import Ledger, open_ledger


def create_app(
    settings: Mapping[str, Any],
    *,
    openai_client: openai.OpenAI | None = None,
    graph: GraphClient | None = None,
    ledger: Ledger | None = None,
) -> Flask:
    """Build the app from the settings `config.load()` returned, used as they are: loaded once
    (wsgi.py), never rendered back to text and parsed again, which would lose what text cannot
    carry (a frozenset of app ids, an effort of None). Clients are injectable for tests."""
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"] or None)
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]

    graph = graph or GraphClient(
        app.config["FB_GRAPH_API_URL"],
        page_tokens(app.config),
        app.config["FB_APP_SECRET"],
        timeout=app.config["GRAPH_TIMEOUT_SECONDS"],
        pool_size=app.config["WEB_THREADS"],
        **instagram_accounts(app.config),
    )
    settings = Settings.from_config(app.config)
    model = ChatModel(
        openai_client or make_client(app.config["OPENAI_API_KEY"], app.config["OPENAI_BASE_URL"]),
        app.config["OPENAI_MODEL"],
        temperature=app.config["OPENAI_TEMPERATURE"],
        top_p=app.config["OPENAI_TOP_P"],
        max_tokens=app.config["OPENAI_MAX_TOKENS"],
        reasoning_effort=app.config["OPENAI_REASONING_EFFORT"],
        retries=app.config["OPENAI_MAX_RETRIES"],
        tools=escalation.tools(settings),
    )
    if not app.config["LEDGER_PATH"]:
        app.config["LEDGER_PATH"] = os.path.join(app.instance_path, "ledger.sqlite3")
    ledger = ledger or open_ledger(app.config)
    app.extensions["messenger"] = Pipeline(graph, model, ledger, settings)
    app.extensions["erasure"] = Erasure(graph, ledger)

    from . import deletion, errors, health, webhook
    from .emulator import chat
    from .operator import messenger

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(deletion.bp)
    errors.init_app(app)
    app.cli.add_command(chat)
    app.cli.add_command(messenger)
    return app
