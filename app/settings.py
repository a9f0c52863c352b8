"""The pipeline's knobs, taken once from the app's config (config.py reads the environment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    """The knobs of the pipeline, taken from the app's config."""

    fallback_reply: str
    system_prompt: str = ""
    history_messages: int = 10
    history_max_age_hours: float = 24.0
    send_reserve_seconds: float = 2.5
    request_budget_seconds: float = 15.0
    recover_within_minutes: float = 10.0
    spend_limit: int = 30
    spend_limit_reply: str = ""
    page_prompts: Mapping[str, str] = field(default_factory=dict)
    knowledge: str = ""  # the text of KNOWLEDGE_FILE
    page_knowledge: Mapping[str, str] = field(default_factory=dict)
    ai_disclosure: str = ""
    get_started_payload: str = "GET_STARTED"
    welcome_message: str = ""
    model_accepts_images: bool = True
    image_reply: str = ""
    sticker_reply: str = ""
    attachment_reply: str = ""
    human_pause_minutes: float = 30.0
    app_id: str = ""
    web_threads: int = 128  # how many people of one batch are answered at once
    openai_prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    automation_app_ids: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Each field is the setting of the same name in capitals; pages bring their prompts
        and knowledge; knowledge files are read once, here."""
        values = {f.name: config[f.name.upper()] for f in fields(cls) if f.name.upper() in config}
        pages = config.get("FB_PAGE_TOKENS") or {}
        values["page_prompts"] = {
            page_id: page["system_prompt"]
            for page_id, page in pages.items()
            if page["system_prompt"]
        }
        values["knowledge"] = _read(config.get("KNOWLEDGE_FILE") or "")
        values["page_knowledge"] = {
            page_id: _read(page["knowledge_file"])
            for page_id, page in pages.items()
            if page.get("knowledge_file")
        }
        values["app_id"] = config.get("FB_APP_ID", "")
        return cls(**values)


def _read(path: str) -> str:
    """A knowledge file's text (config.py checked it is there, readable and not too long)."""
    if not path:
        return ""
    with open(path, encoding="utf-8") as file:
        return file.read().strip()
