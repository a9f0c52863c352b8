"""Answer one claimed message, start to finish: turn → history → prompt → model (a typing
indicator beside it) → render → split → send → settle (reply kept, turn left, answered, told:
one round trip).

No HTTP and no Flask here, and nothing of when the webhook says 200 (app/acknowledge.py):
the Graph client, the model, the store and the settings are passed in, so tests swap any of
them. A message whose reply could not go out at all (Graph unreachable, a transient refusal)
or that met a bug before anything went out is given back to the store, where recovery finds
it again (app/recovery.py): acknowledged means answered, by this process or another.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from . import metrics, prompt, render, text
from .canned import fixed_reply, is_forget, is_get_started
from .deadline import Deadline
from .escalation import BUTTON, TOOL_NAME, WORDS, Escalation, is_button
from .events import INSTAGRAM
from .facebook import GraphClient, GraphError
from .history import History
from .indicator import TYPING_SECONDS, Typing
from .intake import Claimed
from .llm import MIN_ATTEMPT_SECONDS, ChatModel, ModelError
from .outcome import (
    CANNED,
    DEFERRED,
    FAILED,
    FALLBACK,
    HANDOVER,
    MODEL,
    OVER_LIMIT,
    SEND_FAILED,
    Outcome,
)
from .settings import Settings
from .store import Ledger, StoreUnavailable

log = logging.getLogger(__name__)


class NotSent(Exception):
    """Nothing of the reply went out, provably, and trying later may work."""


class Behind(NotSent):
    """Not started: an earlier message of the person is still open when this one's wait for
    its turn ran out. Given back, it is recovered and follows it (not counted as a try)."""


class Conversation:
    """Answers a claimed message with exactly one reply: the model's, a fixed one, or the
    fallback."""

    def __init__(
        self,
        graph: GraphClient,
        model: ChatModel,
        ledger: Ledger,
        history: History,
        settings: Settings,
    ) -> None:
        self.graph = graph
        self.model = model
        self.ledger = ledger
        self.history = history
        self.settings = settings
        self.escalation = Escalation(graph, ledger, settings)
        # Typing indicators go out beside the model call, never in its way, and only for a
        # model that takes a while (app/indicator.py).
        self.typing = Typing(self._typing, after=settings.typing_after_seconds)

    @property
    def needed(self) -> float:
        """The least time worth starting an answer with: a model attempt and the send."""
        return self.settings.send_reserve_seconds + MIN_ATTEMPT_SECONDS

    def answer(self, claimed: Claimed, deadline: Deadline) -> Outcome:
        """Wait for the person's earlier messages, answer this one, settle it; give the claim
        back when nothing went out and another try may do better."""
        event = claimed.event
        sent: list[tuple[str, str]] = []  # what went out: Meta's id and the text of each part
        wait_for_turn = deadline.remaining() - self.needed - MIN_ATTEMPT_SECONDS
        try:
            with self.ledger.turn(
                event.conversation,
                event.key,
                event.timestamp,
                max(0.0, wait_for_turn),
                claimed.arrival.turn,
            ) as turn:
                if not turn and turn.behind:
                    raise Behind("an earlier message of the person is still open")
                if not turn:
                    log.warning("answering out of turn mid=%s: the store cannot say", event.log_id)
                elif not claimed.arrival.turn:
                    claimed = self._as_it_stands(claimed)
                try:
                    outcome = self._answer(claimed, deadline, sent)
                except NotSent:
                    raise
                except Exception:  # a bug must not cost the person their reply
                    if sent:
                        raise
                    log.exception("pipeline failed mid=%s, sending the fallback", event.log_id)
                    fallback = self.settings.fallback_reply
                    outcome = self._deliver(claimed, fallback, FALLBACK, deadline, sent)
                # After "Delete my data", even its confirmation is not kept.
                forgotten = is_forget(event, self.settings)
                kept = [] if forgotten else self.history.replies(event, sent)
                told = outcome.disclosed and not forgotten
                self.ledger.settle(event.key, turn, event.conversation, kept, told)
        except NotSent as exc:
            self.ledger.release(event.key, tried=not isinstance(exc, Behind))
            return Outcome(DEFERRED, f"{exc}; given back for recovery")
        except Exception:
            log.exception("answer failed mid=%s", event.log_id)
            if sent:  # a part went out: never again
                self.ledger.answered(event.key)
                return Outcome(FAILED, f"a bug after {len(sent)} parts went out")
            self.ledger.release(event.key)
            return Outcome(FAILED, "a bug; given back for recovery")
        return outcome

    def _as_it_stands(self, claimed: Claimed) -> Claimed:
        """A message whose turn came after its arrival: the conversation as the earlier
        messages left it, and whether one of them told the person they talk to an AI (the
        arrival could not know; the disclosure is made once)."""
        kept = self.ledger.transcript(claimed.event.conversation)
        told = claimed.arrival.told or kept.told
        return replace(
            claimed, arrival=replace(claimed.arrival, turn=True, transcript=kept, told=told)
        )

    def _answer(self, claimed: Claimed, deadline: Deadline, sent: list) -> Outcome:
        """A fixed reply where one fits; else spend limit → history → prompt → model (typing
        beside it) → render → send. `sent` collects the parts that went out."""
        s, event, spent = self.settings, claimed.event, claimed.arrival.spent
        if is_forget(event, s):
            try:
                self.ledger.erase(event.conversation)
            except StoreUnavailable as exc:  # never say it is done when it is not
                raise NotSent(f"could not erase: {exc}") from None
            log.warning("erased what was kept mid=%s (the person asked)", event.log_id)
        if is_button(event, s):  # "Talk to a person": no model needed
            return self._hand_over(claimed, "the person tapped the button", BUTTON, deadline, sent)
        canned = fixed_reply(event, s)
        if canned is not None:
            if not canned:
                return Outcome(CANNED, "that reply is turned off")
            return self._deliver(claimed, canned, CANNED, deadline, sent)
        if spent > s.spend_limit:
            if spent > s.spend_limit + 1 or not s.spend_limit_reply:
                return Outcome(OVER_LIMIT, "silent: notice sent or turned off")
            return self._deliver(claimed, s.spend_limit_reply, OVER_LIMIT, deadline, sent)
        # Only the send may use the reserve: history and the model end before it.
        before_send = deadline.minus(s.send_reserve_seconds)
        # The conversation came with the arrival when its turn did (nobody was before it).
        arrived = claimed.arrival.transcript if claimed.arrival.turn else None
        history, source = self.history.recall(event, before_send, arrived)
        messages = prompt.build(
            event,
            history,
            system_prompt=s.page_prompts.get(event.page_id, s.system_prompt),
            knowledge=s.page_knowledge.get(event.page_id, s.knowledge),
            limit=s.history_messages,
            max_age_hours=s.history_max_age_hours,
            now=datetime.now(UTC),
            note=prompt.note(event, welcome=is_get_started(event, s)),
            images=s.model_accepts_images,
        )
        # The indicator is for the model's wait, the one a person cannot guess (reasoning, a
        # long answer, a slow day at the provider); our own queueing under a burst is better
        # spent on replies than on a Graph call per message (docs/benchmark-cost.md).
        typing = self.typing.start(event)
        reply, made_by, usage, call = self._reply(event, messages, before_send, typing.cancel)
        typing.stop()  # a reply is ready: no indicator now, and never one after the reply
        metrics.count_tokens(event.page_id, event.channel, self.model.model, usage, s.openai_prices)
        if call is not None and call.name == TOOL_NAME:
            reason = str(call.arguments.get("reason") or "")
            outcome = self._hand_over(claimed, reason, WORDS, deadline, sent)
            return replace(outcome, usage=str(usage))
        if made_by == MODEL:
            reply = render.to_text(reply)  # Messenger shows Markdown as raw symbols
            if not reply.strip():  # "#", an empty code fence: nothing a person can read
                reply, made_by = s.fallback_reply, FALLBACK
        earlier = sum(1 for m in messages[:-1] if m["role"] != "system")
        outcome = self._deliver(claimed, reply, made_by, deadline, sent)
        return replace(outcome, history=earlier, history_from=source, usage=str(usage))

    def _deliver(
        self, claimed: Claimed, reply: str, kind: str, deadline: Deadline, sent: list
    ) -> Outcome:
        """Disclose the AI where due, split, send in order, and say how it went."""
        event, disclosure = claimed.event, self.settings.ai_disclosure
        disclosed = bool(disclosure) and (
            is_get_started(event, self.settings) or not claimed.arrival.told
        )
        if disclosed:
            reply = f"{disclosure}\n\n{reply}"
        parts = text.split(reply, text.CHANNELS[event.channel])
        went, failure = self._send(event, parts, deadline)
        sent.extend(went)
        if failure is not None and not went and failure.sent is False and failure.transient:
            raise NotSent(f"no reply could be sent: {failure}")
        if len(went) < len(parts):
            detail = f"after {len(went)}/{len(parts)} parts, {kind}"
            return Outcome(SEND_FAILED, detail, len(went), disclosed=disclosed and bool(went))
        return Outcome(kind, parts=len(parts), disclosed=disclosed)

    def _typing(self, event) -> None:
        """Let the person see the bot is working; a failure here changes nothing else."""
        try:
            self.graph.sender_action(
                event.page_id, event.person_id, "typing_on", Deadline(TYPING_SECONDS)
            )
        except GraphError as exc:
            log.warning("typing_on failed mid=%s: %s", event.log_id, exc)

    def _reply(self, event, messages: list[dict], deadline: Deadline, answered):
        """The model's reply, or the fallback text when there is none in time; the tokens it
        cost either way; and the function it called, if any. `answered()`: the model's answer
        is in (no indicator from then on, however long reading it takes on a busy host)."""
        try:
            answer = self.model.reply(messages, deadline, answered)
        except ModelError as exc:
            log.warning("model failed mid=%s: %s", event.log_id, exc)
            metrics.MODEL_ERRORS.labels(self.model.model, exc.kind).inc()
            return self.settings.fallback_reply, FALLBACK, exc.usage, None
        return answer.text, MODEL, answer.usage, answer.tool_call

    def _hand_over(
        self, claimed: Claimed, reason: str, via: str, deadline: Deadline, sent: list
    ) -> Outcome:
        """HANDOVER_REPLY to the person, then the thread to the team (app/escalation.py)."""
        told = self._deliver(claimed, self.settings.handover_reply, HANDOVER, deadline, sent)
        if told.kind != HANDOVER:  # the reply did not go out: nobody was told
            return told
        detail, note = self.escalation.pass_thread(claimed.event, reason, via, deadline)
        return replace(told, detail=detail, note=note)

    def _send(self, event, parts: list[str], deadline: Deadline):
        """Send the parts in order, each after the previous succeeded; return Meta's id and the
        text of each part that went out, and the error that stopped the rest."""
        sent = []
        for index, part in enumerate(parts):
            try:
                mid = self.graph.send_text(event.page_id, event.person_id, part, deadline)
            except GraphError as exc:
                log.error("send failed mid=%s part=%d: %s", event.log_id, index + 1, exc)
                return sent, exc
            sent.append((mid, part))
            if event.channel == INSTAGRAM:
                # Its echo carries no app id: the part's id is kept at once, so that the
                # echo (which may come before the reply is settled) is known as ours.
                self.ledger.sent([mid])
        return sent, None
