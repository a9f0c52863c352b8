import logging
import subprocess
import sys
from pathlib import Path

from app.logs import RedactingFormatter, mask

ROOT = Path(__file__).resolve().parent.parent


def test_mask_replaces_longest_secret_first():
    assert (
        mask("a tok-1234 tok-12345 b", ["tok-1234", "tok-12345", ""]) == "a [redacted] [redacted] b"
    )


def test_short_values_are_not_masked():
    assert mask("yes abc", ["abc"]) == "yes abc"


def test_formatter_masks_arguments_and_tracebacks():
    formatter = RedactingFormatter(["s3cr3t-value"])
    try:
        raise ValueError("boom with s3cr3t-value inside")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "token=%s", ("s3cr3t-value",), sys.exc_info()
        )
    text = formatter.format(record)
    assert "s3cr3t-value" not in text and "token=[redacted]" in text and "ValueError" in text


def test_configure_masks_every_logger_that_reaches_stderr():
    script = (
        "import logging\n"
        "from app.logs import configure\n"
        "configure('INFO', ['verify-tok-42'])\n"
        "logging.getLogger('werkzeug').info('GET /webhook?hub.verify_token=verify-tok-42')\n"
        "try:\n"
        "    raise RuntimeError('verify-tok-42')\n"
        "except RuntimeError:\n"
        "    logging.getLogger('app').exception('failed')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert "hub.verify_token=[redacted]" in done.stderr and "RuntimeError" in done.stderr
    assert "verify-tok-42" not in done.stderr


def test_no_appsecret_proof_or_whole_person_id_survives_a_line():
    line = (
        "Connection pool is full: https://graph.facebook.com/v26.0/123/conversations?"
        "platform=messenger&user_id=24680135792468&appsecret_proof=9f86d081884c7d659a2feaa0c5"
    )
    masked = mask(line, [])
    assert "24680135792468" not in masked and "user_id=…2468" in masked
    assert "9f86d081884c7d659a2feaa0c5" not in masked and "appsecret_proof=[redacted]" in masked


def test_json_lines_carry_the_event_fields_and_are_masked():
    import json

    from app.logs import JsonFormatter

    record = logging.LogRecord(
        "app.conversation", logging.INFO, __file__, 1, "event %s", ("x",), None
    )
    record.event = {"mid": "m_1", "person": "…1234", "outcome": "model parts=1", "ms": 1042}
    record.args = ("token-abcdef",)
    line = JsonFormatter(["token-abcdef"]).format(record)
    entry = json.loads(line)
    assert entry["mid"] == "m_1" and entry["ms"] == 1042 and entry["level"] == "INFO"
    assert entry["message"] == "event [redacted]"


def test_a_postback_without_a_mid_or_a_busy_store_never_logs_the_whole_person_id(
    app, post, graph, caplog
):
    import sqlite3

    from tests.conftest import PERSON, body_of, graph_ok
    from tests.test_people import postback

    caplog.set_level(logging.DEBUG)
    graph_ok(graph)
    store = app.extensions["messenger"].ledger.store

    def busy(*args):
        raise sqlite3.OperationalError("database is locked")

    real, store.arrive = store.arrive, busy
    assert post(body_of(postback("Menu", "MENU"))).status_code == 503
    store.arrive = real
    assert post(body_of(postback("Menu", "MENU"))).status_code == 200
    assert "…" + PERSON[-4:] in caplog.text and PERSON not in caplog.text


def test_an_unauthenticated_mode_cannot_forge_a_log_line(client, caplog):
    caplog.set_level(logging.INFO)
    forged = "x\nINFO app: forged"
    client.get("/webhook", query_string={"hub.mode": forged, "hub.verify_token": "no"})
    assert "\nINFO app: forged" not in caplog.text
