"""The pipeline's knobs, taken once from the app's config (config.py reads the environment).

config.OPTIONAL holds the only defaults: a field here has none of its own, so a setting that
is renamed or missing stops start-up with its name instead of quietly meaning something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

#: Fields that are not one setting of the same name: made from FB_PAGE_TOKENS, KNOWLEDGE_FILE
#: and FB_APP_ID in from_config.
DERIVED = frozenset({"page_prompts", "knowledge", "page_knowledge", "app_id"})


@dataclass(frozen=True)
class Settings:
    """The knobs of the pipeline, taken from the app's config."""

    fallback_reply: str
    system_prompt: str
    history_messages: int
    history_max_age_hours: float
    send_reserve_seconds: float
    typing_after_seconds: float
    request_budget_seconds: float
    recover_within_minutes: float
    spend_limit: int
    spend_limit_reply: str
    page_prompts: Mapping[str, str]
    knowledge: str  # the text of KNOWLEDGE_FILE
    page_knowledge: Mapping[str, str]
    ai_disclosure: str
    get_started_payload: str
    welcome_message: str
    model_accepts_images: bool
    image_reply: str
    sticker_reply: str
    story_mention_reply: str
    forget_payload: str
    forget_reply: str
    handover_reply: str
    handover_payload: str
    handover_app_id: str
    attachment_reply: str
    human_pause_minutes: float
    app_id: str
    web_threads: int  # how many people of one batch are answered at once
    openai_prices: Mapping[str, Mapping[str, float]]
    automation_app_ids: frozenset[str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Each field is the setting of the same name in capitals; pages bring their prompts
        and knowledge; knowledge files are read once, here. A setting missing from `config`
        is a KeyError naming it."""
        values = {
            f.name: _setting(config, f.name.upper()) for f in fields(cls) if f.name not in DERIVED
        }
        accounts = _accounts(config)
        values["page_prompts"] = {
            account: entry["system_prompt"]
            for account, entry in accounts.items()
            if entry["system_prompt"]
        }
        values["knowledge"] = _read(_setting(config, "KNOWLEDGE_FILE"))
        values["page_knowledge"] = {
            account: _read(entry["knowledge_file"])
            for account, entry in accounts.items()
            if entry.get("knowledge_file")
        }
        values["app_id"] = _setting(config, "FB_APP_ID")
        return cls(**values)


def _accounts(config: Mapping[str, Any]) -> dict[str, Mapping[str, str]]:
    """Every account with its own prompt or knowledge: the pages of FB_PAGE_TOKENS, the
    Instagram account linked to each (it speaks for the page), INSTAGRAM_ACCOUNTS."""
    accounts: dict[str, Mapping[str, str]] = {}
    for page_id, page in (_setting(config, "FB_PAGE_TOKENS") or {}).items():
        accounts[page_id] = page
        if page.get("instagram_id"):
            accounts[page["instagram_id"]] = page
    accounts.update(_setting(config, "INSTAGRAM_ACCOUNTS") or {})
    return accounts


def _setting(config: Mapping[str, Any], name: str) -> Any:
    """The setting, or a KeyError that says what is wrong: config.load() did not give it."""
    try:
        return config[name]
    except KeyError:
        raise KeyError(
            f"{name}: the pipeline needs this setting and config.load() did not give it "
            "(renamed in config.OPTIONAL?)"
        ) from None


def _read(path: str) -> str:
    """A knowledge file's text (config.py checked it is there, readable and not too long)."""
    if not path:
        return ""
    with open(path, encoding="utf-8") as file:
        return file.read().strip()
