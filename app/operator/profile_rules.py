"""The rules of each Messenger Profile field, from Meta's published limits.

Each function takes a field's value as the file holds it and returns every problem, named by
its place in the file (`greeting[1].text: 171 characters, at most 160`), so an operator fixes
the file once instead of reading Graph's error for one field at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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


def get_started(value: Any) -> list[str]:
    """get_started is {"payload": "..."}."""
    if not isinstance(value, dict):
        return ['get_started: must be an object like {"payload": "GET_STARTED"}']
    problems = _unknown_keys("get_started", value, ("payload",))
    problems += _text("get_started.payload", value.get("payload"), PAYLOAD_MAX)
    return problems


def greeting(value: Any) -> list[str]:
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


def ice_breakers(value: Any, where: str = "ice_breakers") -> list[str]:
    """Either per-locale groups of questions (Meta's current format) or one flat list; `where`
    names them in the file (Messenger's, or the instagram section's)."""
    if not _non_empty_list(value):
        return [f"{where}: must be a non-empty list"]
    grouped = [isinstance(item, dict) and "call_to_actions" in item for item in value]
    if any(grouped) and not all(grouped):
        return [
            f"{where}: mixes the per-locale format ({{locale, call_to_actions}}) with "
            "the flat one ({question, payload}); use one"
        ]
    if not all(grouped):
        return _questions(where, value)
    problems = []
    for i, group in enumerate(value):
        here = f"{where}[{i}]"
        problems += _unknown_keys(here, group, ("locale", "call_to_actions"))
        problems += _locale(here, group.get("locale"))
        problems += _questions(f"{here}.call_to_actions", group["call_to_actions"])
    return problems + _locales(where, value)


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


def persistent_menu(value: Any) -> list[str]:
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
