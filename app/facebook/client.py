"""The Graph API client: conversation history, the Send API and sender actions.

One pooled `requests.Session` per process; the page token travels in the Authorization header
(never in a URL) with `appsecret_proof`; every call has a timeout that ends inside the
request's budget. Graph errors become `GraphError` with the code and what it means, so callers
decide on meaning rather than on HTTP status codes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .. import metrics
from ..deadline import Deadline
from . import retry
from .accounts import Accounts, Route
from .errors import GraphError, error_from

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
LOOKUP_SECONDS = 3.0  # the most a request waits to learn the page of a single token


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the conversation, oldest first once listed."""

    id: str
    text: str
    from_page: bool
    created: datetime


def _session(pool_size: int, hosts: list[str]) -> requests.Session:
    """A pooled session with no retries of its own (`retry.py` decides every repeat) that
    reads the environment's proxy and CA settings once, here, for the hosts it will call.

    With `trust_env` on, requests scans the whole environment twice on every call and looks
    for a .netrc: a tenth of a Graph call's CPU, for settings that cannot change while the
    process runs. So the session gets them once: HTTP(S)_PROXY (or ALL_PROXY) per host unless
    NO_PROXY covers it, and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. (Graph calls carry their own
    token; a .netrc has no business in them.)"""
    session = requests.Session()
    session.trust_env = False
    for url in hosts:
        where = urlsplit(url)  # keyed as requests' select_proxy looks it up: no port
        proxies = requests.utils.get_environ_proxies(url)
        proxy = proxies.get(where.scheme) or proxies.get("all")
        if where.hostname and proxy:
            session.proxies[f"{where.scheme}://{where.hostname}"] = proxy
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GraphClient:
    """Calls the Graph API on behalf of the Pages and Instagram accounts we answer for, each
    with its own token and host (app/facebook/accounts.py)."""

    def __init__(
        self,
        base_url: str,
        tokens: str | Mapping[str, str],
        app_secret: str,
        *,
        timeout: float = 5.0,
        pool_size: int = 128,  # one connection per thread that may call at once (WEB_THREADS)
        session: requests.Session | None = None,
        **instagram: Any,
    ) -> None:
        """`tokens`: one page token for any page, or a page id → token map; `instagram`: the
        Instagram accounts (see Accounts: linked, instagram, instagram_url, instagram_secret)."""
        self.timeout = timeout
        self.accounts = Accounts(base_url, tokens, app_secret, **instagram)
        hosts = [u for u in (self.accounts.base_url, self.accounts.instagram_url) if u]
        self._session = session or _session(pool_size, hosts)

    @property
    def base_url(self) -> str:
        """The Graph API's base URL with its version (FB_GRAPH_API_URL)."""
        return self.accounts.base_url

    def serves(self, account: str, wait: float = LOOKUP_SECONDS) -> bool:
        """Whether we answer for this Page or Instagram account. A single token belongs to one
        page (and its linked Instagram account), learned from /me once; other accounts the app
        is subscribed to are not ours to answer. While they cannot be learned (within `wait`
        seconds), every account is served rather than none."""
        return self.accounts.serves(account, self._own(wait))

    def _own(self, wait: float) -> tuple[str, str] | None:
        """The single token's page and linked Instagram account, asked of Graph once."""
        if self.accounts.default is None:
            return None

        def ask(seconds: float) -> tuple[str, str]:
            fields = {"fields": "id,instagram_business_account"}
            me = self.api("GET", "/me", params=fields, seconds=seconds)
            linked = me.get("instagram_business_account")
            return str(me["id"]), str(linked.get("id", "")) if isinstance(linked, dict) else ""

        return self.accounts.own(ask, wait)

    def route(self, account: str | None) -> Route:
        """Where a call for this account goes (its host, path id, auth and channel)."""
        return self.accounts.route(account, self._own(0) if account else None)

    def history(
        self, account: str, person_id: str, limit: int, deadline: Deadline
    ) -> list[HistoryMessage]:
        """The conversation's latest `limit` messages in one request, oldest first."""
        route = self.route(account)
        fields = f"messages.limit({limit}){{message,from,created_time}}"
        params = {"platform": route.channel, "user_id": person_id, "fields": fields}
        path = f"/{route.path_id}/conversations"
        # One try: the allowance (app/history.py) granted one call, and Meta counts each.
        body = self._call("GET", path, deadline, route, retry.ONCE, "history", params=params)
        threads = body.get("data") if isinstance(body, dict) else None
        thread = threads[0] if isinstance(threads, list) and threads else None
        box = thread.get("messages") if isinstance(thread, dict) else None
        messages = box.get("data") if isinstance(box, dict) else None
        if not isinstance(messages, list):
            return []  # a new conversation, or a shape we do not know: no history
        listed = [m for m in (_history_message(raw, account) for raw in messages) if m]
        # Graph lists newest first; reversing first keeps same-second messages in their order.
        return sorted(reversed(listed), key=lambda m: m.created)

    def send_text(self, account: str, person_id: str, text: str, deadline: Deadline) -> str:
        """Send one text message as a reply; return Meta's message id."""
        route = self.route(account)
        body: dict[str, Any] = {"recipient": {"id": person_id}, "message": {"text": text}}
        if not route.instagram_login:  # Instagram Login's own samples send no messaging_type
            body["messaging_type"] = "RESPONSE"
        path = f"/{route.path_id}/messages"
        answer = self._call("POST", path, deadline, route, retry.SEND, "send", json=body)
        return str(answer.get("message_id", "")) if isinstance(answer, dict) else ""

    def pass_thread(
        self, account: str, person_id: str, app_id: str, metadata: str, deadline: Deadline
    ) -> None:
        """Conversation Routing: hand the person's thread to another app (the Page Inbox,
        where the team works), with a note the team sees."""
        route = self.route(account)
        body = {"recipient": {"id": person_id}, "target_app_id": app_id, "metadata": metadata}
        path = f"/{route.path_id}/pass_thread_control"
        self._call("POST", path, deadline, route, retry.ONCE, "pass_thread", json=body)

    def sender_action(self, account: str, person_id: str, action: str, deadline: Deadline) -> None:
        """Show typing_on / typing_off / mark_seen to the person."""
        route = self.route(account)
        body = {"recipient": {"id": person_id}, "sender_action": action}
        path = f"/{route.path_id}/messages"
        self._call("POST", path, deadline, route, retry.ONCE, "sender_action", json=body)

    def api(
        self,
        method: str,
        path: str,
        *,
        page_id: str | None = None,
        seconds: float = 10.0,
        **kwargs: Any,
    ) -> Any:
        """Any other Graph call (operator commands): same auth, proof and error handling; reads
        are tried again like the pipeline's."""
        policy = retry.READ if method == "GET" else retry.ONCE
        route = self.accounts.route(page_id)
        return self._call(method, path, Deadline(seconds), route, policy, "api", **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        route: Route,
        policy: retry.Policy,
        call: str,
        **kwargs: Any,
    ) -> Any:
        """A Graph request, tried again as the call's policy allows (app/facebook/retry.py);
        the failure that ends it is counted under `call` and Meta's code."""
        for attempt in range(policy.tries):
            try:
                return self._request(method, path, deadline, route, **kwargs)
            except GraphError as exc:
                pause = policy.pause_before(attempt)
                last = attempt + 1 == policy.tries
                if (
                    last
                    or not policy.again(exc)
                    or deadline.remaining() < pause + retry.MIN_AFTER_PAUSE
                ):
                    code = metrics.graph_code(exc)
                    metrics.GRAPH_ERRORS.labels(call, code, route.channel).inc()
                    raise
                log.info("Graph %s %s failed, trying again: %s", method, path.split("/")[-1], exc)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self, method: str, path: str, deadline: Deadline, route: Route, **kwargs: Any
    ) -> Any:
        """One Graph request inside the budget; errors become GraphError."""
        headers, proof = route.headers, route.proof
        read_timeout = deadline.cap(self.timeout)
        if read_timeout <= 0.05:
            raise GraphError("no time left in the request budget", sent=False)
        params = dict(kwargs.pop("params", None) or {}, appsecret_proof=proof)
        timeout = (min(CONNECT_TIMEOUT, read_timeout), read_timeout)
        try:
            response = self._session.request(
                method,
                route.base_url + path,
                params=params,
                headers=headers,
                timeout=timeout,
                **kwargs,
            )
        except requests.Timeout as exc:
            sent = False if isinstance(exc, requests.ConnectTimeout) else None
            raise GraphError("Graph did not answer in time", sent=sent, timed_out=True) from None
        except requests.ConnectionError as exc:
            sent = False if _never_sent(exc) else None
            raise GraphError(f"Graph unreachable ({type(exc).__name__})", sent=sent) from None
        except requests.RequestException as exc:
            raise GraphError(f"Graph request failed ({type(exc).__name__})", sent=None) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and body is not None:
            return body
        raise error_from(response.status_code, body, response.headers)


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Only a connection that was never made proves the request did not reach Meta."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _history_message(raw: Any, account: str) -> HistoryMessage | None:
    """One message of the Conversations API answer, or None when it cannot be read."""
    if not isinstance(raw, dict):
        return None
    created = _parse_time(raw.get("created_time"))
    if created is None:
        return None
    sender = raw.get("from") if isinstance(raw.get("from"), dict) else {}
    text = raw.get("message") if isinstance(raw.get("message"), str) else ""
    return HistoryMessage(
        id=str(raw.get("id", "")),
        text=text.strip() or "[attachment]",
        from_page=str(sender.get("id", "")) == account,
        created=created,
    )


def _parse_time(value: Any) -> datetime | None:
    """Graph times look like 2026-11-24T12:00:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)  # ~40x cheaper than strptime, 11 per message
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def page_tokens(config: Mapping[str, Any]) -> str | dict[str, str]:
    """FB_PAGE_TOKENS when several pages are served, else the one FB_PAGE_ACCESS_TOKEN."""
    pages = config.get("FB_PAGE_TOKENS")
    if pages:
        return {page_id: page["token"] for page_id, page in pages.items()}
    return config["FB_PAGE_ACCESS_TOKEN"]


def instagram_accounts(config: Mapping[str, Any]) -> dict[str, Any]:
    """The Instagram accounts of the settings, as GraphClient takes them: those linked to a
    Page of FB_PAGE_TOKENS, and those of INSTAGRAM_ACCOUNTS (Instagram Login)."""
    pages = config.get("FB_PAGE_TOKENS") or {}
    login = config.get("INSTAGRAM_ACCOUNTS") or {}
    return {
        "linked": {p["instagram_id"]: page for page, p in pages.items() if p.get("instagram_id")},
        "instagram": {account: entry["token"] for account, entry in login.items()},
        "instagram_url": config.get("INSTAGRAM_GRAPH_API_URL") or "",
        "instagram_secret": config.get("INSTAGRAM_APP_SECRET") or "",
    }
