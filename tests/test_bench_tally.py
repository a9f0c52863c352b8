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


def test_a_row_whose_later_replies_missed_an_earlier_message_does_not_pass():
    # A fault row counted lost and duplicated replies only: a reply made without the message
    # before it (a dead worker's, answered after it) passed.
    who = "p1"
    reply = "[offline model] {} earlier messages; you said: {}"
    right = [reply.format(2 * k, message_text(who, k)) for k in range(3)]
    assert tally({who: right}, [who], 3, FALLBACK, 10).faithful_enough
    wrong = [right[0], reply.format(3, message_text(who, 1)), right[2]]
    counted = tally({who: wrong}, [who], 3, FALLBACK, 10)
    assert counted.fidelity_pct == 50.0 and not counted.faithful_enough
