"""The stages wired together, once per process: verify and parse (app/webhook.py, the HTTP
layer) → keep & claim (app/intake.py) → acknowledge (app/acknowledge.py) → answer
(app/conversation.py: history, prompt, model, render, split, send, settle) — and recovery
(app/recovery.py), which answers what a dead process acknowledged."""

from __future__ import annotations

from .acknowledge import Acknowledger
from .conversation import Conversation
from .deadline import Deadline
from .events import Event
from .facebook import GraphClient
from .handover import Handover
from .history import History
from .intake import Intake
from .llm import ChatModel
from .outcome import Recorder
from .recovery import Recovery
from .settings import Settings
from .store import Ledger

OTHER_PAGES = "other"  # the metric label of every page we do not serve


class Pipeline:
    """What the webhook hands events to; the operator's and the emulator's way in too."""

    def __init__(
        self, graph: GraphClient, model: ChatModel, ledger: Ledger, settings: Settings
    ) -> None:
        self.graph, self.model, self.ledger, self.settings = graph, model, ledger, settings
        handover = Handover(
            graph,
            ledger,
            settings.app_id,
            settings.human_pause_minutes,
            settings.automation_app_ids,
        )
        self.history = history = History(graph, ledger, limit=settings.history_messages)
        self.record = Recorder(lambda page: page if graph.serves(page, 0) else OTHER_PAGES)
        self.intake = Intake(graph, ledger, handover, history, settings)
        self.conversation = Conversation(graph, model, ledger, history, settings)
        self.acknowledger = Acknowledger(
            self.intake,
            self.conversation,
            self.record,
            threads=settings.web_threads,
            budget=settings.request_budget_seconds,
        )
        self.recovery = Recovery(
            ledger,
            self.intake,
            self.acknowledger.answer,
            within_minutes=settings.recover_within_minutes,
        )
        ledger.every_beat(self.recovery)

    def start(self) -> None:
        """Beat, and so recover, from now on (a serving process calls it when it starts)."""
        self.ledger.start()

    def receive(self, received: list[Event], ack: Deadline) -> bool:
        """A webhook body's events; True: say 200, False: say 503 (see Acknowledger)."""
        return self.acknowledger.receive(received, ack)
