"""The typing indicator's senders: few, and an indicator its reply overtakes is never sent."""

import threading
import time

from app.indicator import TYPING_SENDERS, Typing


def handed_over(indicator, seconds: float = 5.0) -> bool:
    """Whether the clock handed the indicator to the senders (it does so at once when due)."""
    end = time.monotonic() + seconds
    while indicator.future is None and time.monotonic() < end:
        time.sleep(0.005)
    return indicator.future is not None


def test_an_indicator_waiting_for_a_sender_when_its_reply_is_ready_is_never_sent():
    release, sending, sent = threading.Event(), threading.Semaphore(0), []

    def send(name):
        sent.append(name)
        if name.startswith("busy"):
            sending.release()
            assert release.wait(5)

    typing = Typing(send, after=0)
    busy = [typing.start(f"busy{i}") for i in range(TYPING_SENDERS)]
    for _ in busy:
        assert sending.acquire(timeout=5)  # every sender is in its Graph call
    late = typing.start("late")
    assert handed_over(late)
    late.stop()  # its reply is ready while it still waits for a sender: no wait, no send
    assert late.future.cancelled()
    release.set()
    for indicator in busy:
        indicator.stop()
    assert sorted(sent) == [f"busy{i}" for i in range(TYPING_SENDERS)]
