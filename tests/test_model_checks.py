"""The doctor's model lines: shutdown dates, and one real reply as the bot asks it."""

from datetime import date

import httpx2
import openai
import pytest

from app.operator import messenger, model_checks
from tests.conftest import build_app
from tests.test_doctor import (
    doctor_lines,
    graph_answers,
    model_found,
    models_client,
)


def test_doctor_names_the_shutdown_date_the_models_endpoint_gives(settings, model, graph):
    app = build_app(dict(settings, OPENAI_MODEL="gpt-4.1-mini"), openai_client=model.client())
    app.cli.add_command(messenger)

    def retiring(request):
        body = {"id": "gpt-4.1-mini", "object": "model", "created": 1, "owned_by": "openai"}
        return httpx2.Response(200, json=body | {"shutdown_date": "2027-01-14"})

    app.extensions["messenger"].model.client = models_client(retiring, "openai-classic")
    graph_answers(graph)
    _, lines, _ = doctor_lines(app.test_cli_runner())
    (line,) = [line for line in lines if "model lifetime" in line]
    assert "gpt-4.1-mini" in line and "2027-01-14" in line and line[0] in "⚠✗"
    assert any(line.startswith("✓ model reply: gpt-4.1-mini answered") for line in lines)


@pytest.mark.parametrize(
    ("today", "mark", "words"),
    [
        (date(2026, 11, 27), "⚠", "shuts down on 2027-01-14 (48 days)"),
        (date(2026, 12, 20), "✗", "shuts down on 2027-01-14 (25 days)"),
        (date(2027, 2, 1), "✗", "was shut down on 2027-01-14"),
    ],
)
def test_a_shutdown_warns_then_fails_thirty_days_before(today, mark, words):
    line = model_checks.lifetime_check("gpt-4.1-mini", date(2027, 1, 14), today).line()
    assert line.startswith(mark) and words in line and "OPENAI_MODEL" in line


def test_the_sdk_list_names_a_shutdown_the_server_does_not():
    found = openai.types.Model(id="gpt-4.1-mini", object="model", created=1, owned_by="x")
    assert model_checks._shutdown_of(found) == date(2027, 1, 14)


def test_a_refusal_the_bot_cannot_repair_fails_the_reply_check(app, runner, graph):
    def refuse(request):
        if request.url.path.endswith("/chat/completions"):
            error = {"message": "This model is only available on /v1/responses", "code": None}
            return httpx2.Response(400, json={"error": error})
        return model_found(request)

    app.cli.add_command(messenger)
    app.extensions["messenger"].model.client = models_client(refuse, kind=None)
    graph_answers(graph)
    code, lines, _ = doctor_lines(runner)
    (line,) = [line for line in lines if "model reply" in line]
    assert code == 1 and line.startswith("✗ model reply: no reply: model API error http=400")
    assert "only available on /v1/responses" in line
