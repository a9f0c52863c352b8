import logging

from app.logs import RedactSecrets


def test_secret_in_a_record_is_masked():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "token=%s ok", ("abcdef123456",), None
    )
    assert RedactSecrets(["abcdef123456", ""]).filter(record)
    assert record.getMessage() == "token=[redacted] ok"


def test_record_without_secret_is_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (5,), None)
    RedactSecrets(["abcdef123456"]).filter(record)
    assert (record.msg, record.args) == ("n=%d", (5,))
