"""The profile file's `instagram` section: ice breakers for each Instagram account.

Meta takes them through the same Messenger Profile API with `platform=instagram`: for a Page's
linked account with the Page's token on graph.facebook.com, for an Instagram Login account with
its own token on the Instagram host (`Account.via` routes either). Only Meta's per-locale
format is sent (`[{"call_to_actions": [...], "locale": "default"}]`); a flat list of questions
in the file becomes the default locale's.
"""

from __future__ import annotations

from typing import Any

from ..facebook import GraphClient
from . import profile_rules as rules
from .instagram import Account

SECTION = "instagram"
FIELDS = ("ice_breakers",)
PLATFORM = {"platform": "instagram"}
DESKTOP_NOTE = "Instagram shows ice breakers in its mobile app only, not on desktop"


def validate(section: Any) -> list[str]:
    """Every way the section breaks Meta's rules (at most 4 questions per locale, each at most
    80 characters with a payload, a default locale), named by its place in the file."""
    if not isinstance(section, dict):
        return [f'{SECTION}: must be an object like {{"ice_breakers": [...]}}']
    problems = [
        f"{SECTION}.{key}: unknown key (Instagram takes {', '.join(FIELDS)} only)"
        for key in section
        if key not in FIELDS
    ]
    if "ice_breakers" not in section:
        return problems + [f"{SECTION}: nothing to set: give ice_breakers"]
    return problems + rules.ice_breakers(section["ice_breakers"], f"{SECTION}.ice_breakers")


def apply(graph: GraphClient, account: Account, section: dict[str, Any]) -> Any:
    """Set the account's ice breakers in one call (Meta counts profile calls per account)."""
    body = {**PLATFORM, "ice_breakers": _grouped(section["ice_breakers"])}
    return graph.api("POST", rules.PROFILE_PATH, page_id=account.via, params=PLATFORM, json=body)


def show(graph: GraphClient, account: Account) -> dict[str, Any]:
    """The account's ice breakers as Meta has them, in the section's shape ({} for none)."""
    params = {**PLATFORM, "fields": "ice_breakers"}
    body = graph.api("GET", rules.PROFILE_PATH, page_id=account.via, params=params)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return {}
    if "ice_breakers" in data[0]:  # Messenger's shape: the fields of one profile
        found = data[0]["ice_breakers"]
    else:  # Meta's documented answer for Instagram: the locale groups themselves
        found = [group for group in data if isinstance(group, dict) and "call_to_actions" in group]
    return {"ice_breakers": found} if found else {}


def clear(graph: GraphClient, account: Account) -> Any:
    """Remove the account's ice breakers."""
    body = {"fields": list(FIELDS)}
    return graph.api("DELETE", rules.PROFILE_PATH, page_id=account.via, params=PLATFORM, json=body)


def _grouped(ice_breakers: list[Any]) -> list[Any]:
    """Meta's per-locale format; a flat list of questions is the default locale's."""
    if all(isinstance(item, dict) and "call_to_actions" in item for item in ice_breakers):
        return ice_breakers
    return [{"call_to_actions": ice_breakers, "locale": "default"}]
