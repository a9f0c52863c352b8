"""The page's Messenger Profile: Get Started button, greeting, ice breakers, persistent menu;
and, in the file's `instagram` section, the Instagram accounts' ice breakers
(profile_instagram.py).

A profile file is checked against Meta's published limits before any Graph call, and every
problem is named by its place in the file (`greeting[1].text: 171 characters, at most 160`), so
an operator fixes the file once instead of reading Graph's error for one field at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..facebook import GraphClient
from . import profile_instagram
from . import profile_rules as rules
from .profile_rules import PROFILE_PATH

FIELDS = ("get_started", "greeting", "ice_breakers", "persistent_menu")
SECTIONS = (*FIELDS, profile_instagram.SECTION)  # what a file may hold


class ProfileError(Exception):
    """The profile file cannot be used; `problems` names each bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load(path: str | Path) -> dict[str, Any]:
    """Read a profile file and check it, so nothing half-valid ever reaches Graph."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError([f"{path}: cannot read ({type(exc).__name__}: {exc})"]) from None
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError([f"{path}: not JSON: {exc.msg} (line {exc.lineno})"]) from None
    problems = validate(profile)
    if problems:
        raise ProfileError(problems)
    return profile


def validate(profile: Any) -> list[str]:
    """Every way `profile` breaks Meta's rules, each prefixed with the field's path."""
    if not isinstance(profile, dict):
        return ["the file must hold a JSON object"]
    problems = [
        f"{key}: unknown field (this command sets {', '.join(SECTIONS)})"
        for key in profile
        if key not in SECTIONS
    ]
    if not any(key in profile for key in SECTIONS):
        problems.append(f"nothing to set: give at least one of {', '.join(SECTIONS)}")
    if "get_started" in profile:
        problems += rules.get_started(profile["get_started"])
    if "greeting" in profile:
        problems += rules.greeting(profile["greeting"])
    if "ice_breakers" in profile:
        problems += rules.ice_breakers(profile["ice_breakers"])
    if "persistent_menu" in profile:
        problems += rules.persistent_menu(profile["persistent_menu"])
        if "get_started" not in profile:
            problems.append(
                "persistent_menu: needs get_started in the same file "
                "(Messenger shows the menu only when a Get Started button is set)"
            )
    if profile_instagram.SECTION in profile:
        problems += profile_instagram.validate(profile[profile_instagram.SECTION])
    return problems


def with_bot_items(profile: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The profile with the bot's own menu items in every persistent menu it has: "Talk to a
    person" (HANDOVER_MENU_TITLE, when the hand-over is on) and "Delete my data"
    (FORGET_MENU_TITLE); an item whose payload the menu has already is not added twice."""
    items = []
    if config.get("HANDOVER_REPLY") and config.get("HANDOVER_MENU_TITLE"):
        items.append((config["HANDOVER_MENU_TITLE"], config["HANDOVER_PAYLOAD"]))
    if config.get("FORGET_MENU_TITLE"):
        items.append((config["FORGET_MENU_TITLE"], config["FORGET_PAYLOAD"]))
    if not items or not isinstance(profile.get("persistent_menu"), list):
        return dict(profile)
    menus = []
    for menu in profile["persistent_menu"]:
        menu = dict(menu)
        actions = list(menu.get("call_to_actions") or [])
        have = {item.get("payload") for item in actions if isinstance(item, dict)}
        actions += [
            {"type": "postback", "title": title, "payload": payload}
            for title, payload in items
            if payload not in have
        ]
        menus.append({**menu, "call_to_actions": actions})
    return {**profile, "persistent_menu": menus}


def notes(profile: Mapping[str, Any], get_started_payload: str | None = None) -> list[str]:
    """Valid but surprising combinations worth telling the operator about."""
    found = []
    payload = (profile.get("get_started") or {}).get("payload")
    if get_started_payload is not None and payload not in (None, get_started_payload):
        found.append(
            f"get_started.payload is {payload!r} but GET_STARTED_PAYLOAD is "
            f"{get_started_payload!r}: the bot will not greet people who tap Get Started"
        )
    if "ice_breakers" in profile and "get_started" in profile:
        found.append(
            "ice_breakers and get_started are both set: Messenger shows the ice breakers "
            "on the welcome screen instead of the Get Started button"
        )
    return found


def apply(graph: GraphClient, profile: dict[str, Any], page_id: str | None = None) -> Any:
    """Check, then set the page's fields in one call (Meta allows 10 profile calls per 10 min);
    the instagram section goes to the Instagram accounts (profile_instagram.apply)."""
    problems = validate(profile)
    if problems:
        raise ProfileError(problems)
    fields = {key: value for key, value in profile.items() if key in FIELDS}
    return graph.api("POST", PROFILE_PATH, page_id=page_id, json=fields)


def show(graph: GraphClient, page_id: str | None = None) -> dict[str, Any]:
    """The fields as Meta has them now, in the same shape `apply` reads."""
    params = {"fields": ",".join(FIELDS)}
    body = graph.api("GET", PROFILE_PATH, page_id=page_id, params=params)
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return {key: data[0][key] for key in FIELDS if key in data[0]}
    return {}


def clear(graph: GraphClient, fields: Iterable[str] = FIELDS, page_id: str | None = None) -> Any:
    """Remove fields from the profile (only those this command manages)."""
    chosen = [field for field in FIELDS if field in set(fields)]
    return graph.api("DELETE", PROFILE_PATH, page_id=page_id, json={"fields": chosen})
