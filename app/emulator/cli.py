"""`flask --app wsgi chat`: talk to the bot in this terminal, through the real webhook path."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from .session import INSTAGRAM_ID, Emulator, is_offline

HELP = """commands: /postback PAYLOAD  /image URL  /reset  /help  /quit"""


@click.command("chat")
@click.option("--url", help="POST to this webhook URL (a running or deployed bot) instead.")
@click.option("--verbose", "-v", is_flag=True, help="Show history length, latency and logs.")
@click.option(
    "--instagram",
    is_flag=True,
    help="Talk as an Instagram person, to an Instagram account linked to the emulated page.",
)
@with_appcontext
def chat(url: str | None, verbose: bool, instagram: bool) -> None:
    """Chat with the bot: each line you type is a signed Messenger (or Instagram) event."""
    quiet = logging.getLogger("app")
    level = quiet.level
    quiet.setLevel(logging.INFO if verbose else logging.WARNING)
    emulator = Emulator(
        current_app.config, current_app.instance_path, click.echo, url=url, instagram=instagram
    )
    name = "Messenger emulator"
    if instagram:
        name = f"Instagram emulator (account {INSTAGRAM_ID}, linked to the page)"
    if url:
        click.echo(f"{name} → {url} (its replies go to its own Graph API).")
    elif is_offline(emulator.settings):
        click.echo(
            f"{name} → the bot in this process, the OFFLINE model: it only says"
            " what it received (set OPENAI_API_KEY)."
        )
    else:
        model = emulator.settings["OPENAI_MODEL"]
        click.echo(f"{name} → the bot in this process, model {model}.")
    click.echo(f"Local Graph API: {emulator.graph.url}   {HELP}")
    try:
        _loop(emulator, verbose)
    finally:
        emulator.close()
        quiet.setLevel(level)  # the app's own logging, as it was (the command may be embedded)


def _loop(emulator: Emulator, verbose: bool) -> None:
    """Read lines until /quit or end of input; one webhook call per line."""
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        command, _, argument = line.partition(" ")
        if command == "/quit":
            return
        if command == "/help":
            click.echo(HELP)
            continue
        if command == "/reset":
            emulator.reset()
            click.echo("  (conversation cleared)")
            continue
        started = time.monotonic()
        if command == "/postback" and argument:
            status = emulator.postback(argument.strip())
        elif command == "/image" and argument:
            status = emulator.image(argument.strip())
        elif command.startswith("/"):
            click.echo(f"  unknown command {command}; {HELP}")
            continue
        else:
            status = emulator.text(line)
        took = (time.monotonic() - started) * 1000
        if status != 200 or emulator.url:
            click.echo(f"  (webhook answered {status})")
        if verbose:
            history = emulator.history() or "history not known"
            click.echo(f"  ({history}, {took:.0f} ms, webhook {status})")
