"""The page's Messenger Profile: Get Started button, greeting, ice breakers, persistent menu.

A profile file is checked against Meta's published limits before any Graph call, and every
problem is named by its place in the file (`greeting[1].text: 171 characters, at most 160`), so
an operator fixes the file once instead of reading Graph's error for one field at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..facebook import GraphClient

FIELDS = ("get_started", "greeting", "ice_breakers", "persistent_menu")
PROFILE_PATH = "/me/messenger_profile"

# Meta's limits, from the Messenger Profile API reference pages.
GREETING_TEXT_MAX = 160
PAYLOAD_MAX = 1000  # get_started payload, postback payloads
ICE_BREAKERS_MAX = 4  # questions per locale
ICE_BREAKER_QUESTION_MAX = 80  # not in Meta's reference; the figure other Messenger tools use
MENU_ITEMS_MAX = 20  # flat call_to_actions per locale since Graph API v8.0
MENU_TITLE_MAX = 30
MENU_TYPES = ("postback", "web_url")
WEBVIEW_HEIGHTS = ("compact", "tall", "full")
LOCALE = re.compile(r"^[a-z]{2,3}_[A-Z]{2}$")


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
        f"{key}: unknown field (this command sets {', '.join(FIELDS)})"
        for key in profile
        if key not in FIELDS
    ]
    if not any(key in profile for key in FIELDS):
        problems.append(f"nothing to set: give at least one of {', '.join(FIELDS)}")
    if "get_started" in profile:
        problems += _get_started(profile["get_started"])
    if "greeting" in profile:
        problems += _greeting(profile["greeting"])
    if "ice_breakers" in profile:
        problems += _ice_breakers(profile["ice_breakers"])
    if "persistent_menu" in profile:
        problems += _persistent_menu(profile["persistent_menu"])
        if "get_started" not in profile:
            problems.append(
                "persistent_menu: needs get_started in the same file "
                "(Messenger shows the menu only when a Get Started button is set)"
            )
    return problems


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
    """Check, then set the given fields in one call (Meta allows 10 profile calls per 10 min)."""
    problems = validate(profile)
    if problems:
        raise ProfileError(problems)
    return graph.api("POST", PROFILE_PATH, page_id=page_id, json=profile)


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


def _get_started(value: Any) -> list[str]:
    """get_started is {"payload": "..."}."""
    if not isinstance(value, dict):
        return ['get_started: must be an object like {"payload": "GET_STARTED"}']
    problems = _unknown_keys("get_started", value, ("payload",))
    problems += _text("get_started.payload", value.get("payload"), PAYLOAD_MAX)
    return problems


def _greeting(value: Any) -> list[str]:
    """greeting is a list of {locale, text}, one of them for the default locale."""
    if not _non_empty_list(value):
        return ['greeting: must be a non-empty list of {"locale", "text"} objects']
    problems = []
    for i, item in enumerate(value):
        where = f"greeting[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object with locale and text")
            continue
        problems += _unknown_keys(where, item, ("locale", "text"))
        problems += _locale(where, item.get("locale"))
        problems += _text(f"{where}.text", item.get("text"), GREETING_TEXT_MAX)
    return problems + _locales("greeting", value)


def _ice_breakers(value: Any) -> list[str]:
    """Either per-locale groups of questions (Meta's current format) or one flat list."""
    if not _non_empty_list(value):
        return ["ice_breakers: must be a non-empty list"]
    grouped = [isinstance(item, dict) and "call_to_actions" in item for item in value]
    if any(grouped) and not all(grouped):
        return [
            "ice_breakers: mixes the per-locale format ({locale, call_to_actions}) with "
            "the flat one ({question, payload}); use one"
        ]
    if not all(grouped):
        return _questions("ice_breakers", value)
    problems = []
    for i, group in enumerate(value):
        where = f"ice_breakers[{i}]"
        problems += _unknown_keys(where, group, ("locale", "call_to_actions"))
        problems += _locale(where, group.get("locale"))
        problems += _questions(f"{where}.call_to_actions", group["call_to_actions"])
    return problems + _locales("ice_breakers", value)


def _questions(where: str, value: Any) -> list[str]:
    """Up to four {question, payload} pairs."""
    if not _non_empty_list(value):
        return [f'{where}: must be a non-empty list of {{"question", "payload"}} objects']
    problems = []
    if len(value) > ICE_BREAKERS_MAX:
        problems.append(f"{where}: {len(value)} questions, at most {ICE_BREAKERS_MAX}")
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{here}: must be an object with question and payload")
            continue
        problems += _unknown_keys(here, item, ("question", "payload"))
        problems += _text(f"{here}.question", item.get("question"), ICE_BREAKER_QUESTION_MAX)
        problems += _text(f"{here}.payload", item.get("payload"), PAYLOAD_MAX)
    return problems


def _persistent_menu(value: Any) -> list[str]:
    """Per-locale menus of up to 20 flat postback / web_url items."""
    if not _non_empty_list(value):
        return ["persistent_menu: must be a non-empty list of per-locale menus"]
    allowed = ("locale", "composer_input_disabled", "disabled_surfaces", "call_to_actions")
    problems = []
    for i, menu in enumerate(value):
        where = f"persistent_menu[{i}]"
        if not isinstance(menu, dict):
            problems.append(f"{where}: must be an object with locale and call_to_actions")
            continue
        problems += _unknown_keys(where, menu, allowed)
        problems += _locale(where, menu.get("locale"))
        disabled = menu.get("composer_input_disabled", False)
        if not isinstance(disabled, bool):
            problems.append(f"{where}.composer_input_disabled: must be true or false")
        items = menu.get("call_to_actions")
        if items is None:
            if disabled is True:
                problems.append(
                    f"{where}.call_to_actions: required when composer_input_disabled is true"
                )
            continue
        if not _non_empty_list(items):
            problems.append(f"{where}.call_to_actions: must be a non-empty list of menu items")
            continue
        if len(items) > MENU_ITEMS_MAX:
            problems.append(
                f"{where}.call_to_actions: {len(items)} items, at most {MENU_ITEMS_MAX}"
            )
        for j, item in enumerate(items):
            problems += _menu_item(f"{where}.call_to_actions[{j}]", item)
    return problems + _locales("persistent_menu", value)


def _menu_item(where: str, item: Any) -> list[str]:
    """One postback or web_url button of the menu."""
    if not isinstance(item, dict):
        return [f"{where}: must be an object with type and title"]
    kind = item.get("type")
    if kind == "nested":
        return [f"{where}.type: nested menus were removed in Graph API v8.0; list items flat"]
    if kind not in MENU_TYPES:
        return [f"{where}.type: must be one of {', '.join(MENU_TYPES)}, not {kind!r}"]
    problems = _text(f"{where}.title", item.get("title"), MENU_TITLE_MAX)
    if kind == "postback":
        problems += _unknown_keys(where, item, ("type", "title", "payload"))
        problems += _text(f"{where}.payload", item.get("payload"), PAYLOAD_MAX)
        return problems
    allowed = ("type", "title", "url", "webview_height_ratio", "messenger_extensions")
    problems += _unknown_keys(where, item, (*allowed, "fallback_url", "webview_share_button"))
    problems += _https(f"{where}.url", item.get("url"))
    ratio = item.get("webview_height_ratio")
    if ratio is not None and ratio not in WEBVIEW_HEIGHTS:
        problems.append(
            f"{where}.webview_height_ratio: must be one of {', '.join(WEBVIEW_HEIGHTS)}"
        )
    extensions = item.get("messenger_extensions", False)
    if not isinstance(extensions, bool):
        problems.append(f"{where}.messenger_extensions: must be true or false")
    if "fallback_url" in item:
        if extensions is not True:
            problems.append(f"{where}.fallback_url: only allowed with messenger_extensions true")
        problems += _https(f"{where}.fallback_url", item["fallback_url"])
    share = item.get("webview_share_button")
    if share is not None and share != "hide":
        problems.append(f'{where}.webview_share_button: the only value is "hide"')
    return problems


def _text(where: str, value: Any, limit: int) -> list[str]:
    """A required, non-blank string of at most `limit` characters."""
    if value is None:
        return [f"{where}: missing"]
    if not isinstance(value, str) or not value.strip():
        return [f"{where}: must be a non-empty string"]
    if len(value) > limit:
        return [f"{where}: {len(value)} characters, at most {limit}"]
    return []


def _https(where: str, value: Any) -> list[str]:
    """Menu links must be https here (Meta insists on it only with messenger_extensions)."""
    problems = _text(where, value, 2048)
    if not problems and not value.startswith("https://"):
        problems.append(f"{where}: must be an https:// URL")
    return problems


def _locale(where: str, value: Any) -> list[str]:
    """`default` or a Meta locale such as en_US."""
    if value is None:
        return [f'{where}.locale: missing (use "default" for the fallback entry)']
    if value != "default" and not (isinstance(value, str) and LOCALE.match(value)):
        return [f'{where}.locale: {value!r} is not "default" or a locale like en_US']
    return []


def _locales(where: str, entries: list[Any]) -> list[str]:
    """Each locale once, and a `default` one that Messenger falls back to."""
    seen = [e.get("locale") for e in entries if isinstance(e, dict)]
    problems = [
        f"{where}: locale {locale!r} appears {seen.count(locale)} times"
        for locale in dict.fromkeys(seen)
        if isinstance(locale, str) and seen.count(locale) > 1
    ]
    if "default" not in seen:
        problems.append(f'{where}: needs an entry with "locale": "default"')
    return problems


def _unknown_keys(where: str, value: dict[str, Any], allowed: Iterable[str]) -> list[str]:
    """Catch typos such as `paylod` that Graph would reject or silently drop."""
    known = set(allowed)
    return [f"{where}.{key}: unknown key" for key in value if key not in known]


def _non_empty_list(value: Any) -> bool:
    """A JSON array with at least one entry."""
    return isinstance(value, list) and bool(value)
