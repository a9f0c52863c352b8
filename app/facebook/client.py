"""The Graph API client: conversation history, the Send API and sender actions.

One pooled `requests.Session` per process; the page token travels in the Authorization header
(never in a URL) with `appsecret_proof`; every call has a timeout that ends inside the
request's budget. Graph errors become `GraphError` with the code and what it means, so callers
decide on meaning rather than on HTTP status codes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .. import metrics
from ..deadline import Deadline
from ..signature import appsecret_proof
from . import retry
from .errors import GraphError, error_from
from .lookup import Once

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


def _session(pool_size: int) -> requests.Session:
    """A pooled session with no retries of its own: `retry.py` decides every repeat."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GraphClient:
    """Calls the Graph API on behalf of pages, each with its own token."""

    def __init__(
        self,
        base_url: str,
        tokens: str | Mapping[str, str],
        app_secret: str,
        *,
        timeout: float = 5.0,
        pool_size: int = 128,  # one connection per thread that may call at once (WEB_THREADS)
        session: requests.Session | None = None,
    ) -> None:
        """`tokens`: one page token for any page, or a page id → token map."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or _session(pool_size)
        self._default = tokens if isinstance(tokens, str) else None
        self._page = Once("the page of FB_PAGE_ACCESS_TOKEN")
        self._tokens = {} if isinstance(tokens, str) else dict(tokens)
        every = [self._default] if self._default else list(self._tokens.values())
        self._auth = {
            token: ({"Authorization": f"Bearer {token}"}, appsecret_proof(token, app_secret))
            for token in every
        }

    def serves(self, page_id: str, wait: float = LOOKUP_SECONDS) -> bool:
        """Whether we hold a token for this page. A single token belongs to one page, learned
        from /me once; other pages the app is subscribed to are not ours to answer. While the
        page cannot be learned (within `wait` seconds), every page is served rather than none."""
        if self._default is None:
            return page_id in self._tokens
        own = self._own_page(wait)
        return own is None or own == page_id

    def _own_page(self, wait: float) -> str | None:
        """The single token's page, asked of Graph once per process."""
        return self._page.get(
            lambda seconds: str(
                self.api("GET", "/me", params={"fields": "id"}, seconds=seconds)["id"]
            ),
            wait,
        )

    def _token(self, page_id: str | None) -> str:
        """The page's token; with no page named, the only (or first) one."""
        if page_id is not None and page_id in self._tokens:
            return self._tokens[page_id]
        if self._default is not None:
            return self._default
        if page_id is None and self._tokens:
            return next(iter(self._tokens.values()))
        raise GraphError(f"no token for page {page_id}", sent=False)

    def history(
        self, page_id: str, person_id: str, limit: int, deadline: Deadline
    ) -> list[HistoryMessage]:
        """The conversation's latest `limit` messages in one request, oldest first."""
        fields = f"messages.limit({limit}){{message,from,created_time}}"
        params = {"platform": "messenger", "user_id": person_id, "fields": fields}
        path = f"/{page_id}/conversations"
        # One try: the allowance (app/history.py) granted one call, and Meta counts each.
        body = self._call("GET", path, deadline, page_id, retry.ONCE, "history", params=params)
        threads = body.get("data") if isinstance(body, dict) else None
        thread = threads[0] if isinstance(threads, list) and threads else None
        box = thread.get("messages") if isinstance(thread, dict) else None
        messages = box.get("data") if isinstance(box, dict) else None
        if not isinstance(messages, list):
            return []  # a new conversation, or a shape we do not know: no history
        listed = [m for m in (_history_message(raw, page_id) for raw in messages) if m]
        # Graph lists newest first; reversing first keeps same-second messages in their order.
        return sorted(reversed(listed), key=lambda m: m.created)

    def send_text(self, page_id: str, person_id: str, text: str, deadline: Deadline) -> str:
        """Send one text message as a reply; return Meta's message id."""
        body = {
            "recipient": {"id": person_id},
            "messaging_type": "RESPONSE",
            "message": {"text": text},
        }
        path = f"/{page_id}/messages"
        answer = self._call("POST", path, deadline, page_id, retry.SEND, "send", json=body)
        return str(answer.get("message_id", "")) if isinstance(answer, dict) else ""

    def sender_action(self, page_id: str, person_id: str, action: str, deadline: Deadline) -> None:
        """Show typing_on / typing_off / mark_seen to the person."""
        body = {"recipient": {"id": person_id}, "sender_action": action}
        path = f"/{page_id}/messages"
        self._call("POST", path, deadline, page_id, retry.ONCE, "sender_action", json=body)

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
        return self._call(method, path, Deadline(seconds), page_id, policy, "api", **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        page_id: str | None,
        policy: retry.Policy,
        call: str,
        **kwargs: Any,
    ) -> Any:
        """A Graph request, tried again as the call's policy allows (app/facebook/retry.py);
        the failure that ends it is counted under `call` and Meta's code."""
        for attempt in range(policy.tries):
            try:
                return self._request(method, path, deadline, page_id, **kwargs)
            except GraphError as exc:
                pause = policy.pause_before(attempt)
                last = attempt + 1 == policy.tries
                if (
                    last
                    or not policy.again(exc)
                    or deadline.remaining() < pause + retry.MIN_AFTER_PAUSE
                ):
                    metrics.GRAPH_ERRORS.labels(call, metrics.graph_code(exc)).inc()
                    raise
                log.info("Graph %s %s failed, trying again: %s", method, path.split("/")[-1], exc)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self, method: str, path: str, deadline: Deadline, page_id: str | None, **kwargs: Any
    ) -> Any:
        """One Graph request inside the budget; errors become GraphError."""
        headers, proof = self._auth[self._token(page_id)]
        read_timeout = deadline.cap(self.timeout)
        if read_timeout <= 0.05:
            raise GraphError("no time left in the request budget", sent=False)
        params = dict(kwargs.pop("params", None) or {}, appsecret_proof=proof)
        timeout = (min(CONNECT_TIMEOUT, read_timeout), read_timeout)
        try:
            response = self._session.request(
                method,
                self.base_url + path,
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


def _history_message(raw: Any, page_id: str) -> HistoryMessage | None:
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
        from_page=str(sender.get("id", "")) == page_id,
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
