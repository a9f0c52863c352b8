"""The bench's count of what people received: a disclosed reply is still what it is."""

from bench.driver import message_text
from bench.tally import tally

FALLBACK = "BENCH FALLBACK: sorry."
DISCLOSURE = "Hi! I'm an AI assistant."


def test_a_disclosed_fallback_counts_as_a_fallback_and_a_disclosed_model_reply_as_its_message():
    who = "p1"
    replies = {
        who: [
            f"{DISCLOSURE}\n\n{FALLBACK}",
            f"[offline model] 2 earlier messages; you said: {message_text(who, 1)}",
        ]
    }
    counted = tally(replies, [who], 2, FALLBACK, 10)
    assert (counted.fallbacks, counted.unknown, counted.lost, counted.duplicated) == (1, 0, 0, 0)
    assert counted.fidelity_pct == 100.0
