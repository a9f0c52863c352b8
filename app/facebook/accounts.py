"""Which accounts we answer for, and where each one's calls go.

An account is what a webhook's `entry.id` names: a Facebook Page, or an Instagram professional
account. Meta offers Instagram two ways in:
- *Messenger API for Instagram*: the account is linked to a Page and served with that Page's
  token on graph.facebook.com, through the Page's id (`/{page-id}/messages`,
  `/{page-id}/conversations?platform=instagram`). `FB_PAGE_TOKENS` entries name it as
  `instagram_id`; with a single `FB_PAGE_ACCESS_TOKEN` it is learned from Graph once per
  process, with the token's page (`GET /me?fields=id,instagram_business_account`).
- *Instagram API with Instagram Login*: no Page; `INSTAGRAM_ACCOUNTS` gives the account's own
  Instagram user token, and its calls go to `INSTAGRAM_GRAPH_API_URL` (graph.instagram.com)
  through the account's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..events import INSTAGRAM, MESSENGER
from ..signature import appsecret_proof
from .errors import GraphError
from .lookup import Once


@dataclass(frozen=True)
class Route:
    """Where one account's call goes: the host, the id in the path, the auth, the channel."""

    base_url: str
    path_id: str
    headers: dict[str, str]
    proof: str
    channel: str
    instagram_login: bool = False  # graph.instagram.com: its own request shapes


class Accounts:
    """The Pages and Instagram accounts this deployment answers for, with their tokens."""

    def __init__(
        self,
        base_url: str,
        tokens: str | Mapping[str, str],
        app_secret: str,
        *,
        linked: Mapping[str, str] | None = None,
        instagram: Mapping[str, str] | None = None,
        instagram_url: str = "",
        instagram_secret: str = "",
    ) -> None:
        """`tokens`: one page token, or page id → token; `linked`: Instagram account id → the
        Page it is linked to; `instagram`: Instagram account id → Instagram Login token."""
        self.base_url = base_url.rstrip("/")
        self.instagram_url = instagram_url.rstrip("/")
        # "" (only Instagram Login accounts, no page token) is no token at all.
        self.default = tokens if isinstance(tokens, str) and tokens else None
        self.pages = {} if isinstance(tokens, str) else dict(tokens)
        self.linked = dict(linked or {})
        self.instagram = dict(instagram or {})
        self._own = Once("the page (and its Instagram account) of FB_PAGE_ACCESS_TOKEN")
        # The Instagram app secret, where one is given, makes the proof for its tokens
        # (unconfirmed which of the two Meta checks there; it is the one shown beside them).
        ig_secret = instagram_secret or app_secret
        self._auth = {
            token: _auth(token, app_secret)
            for token in ([self.default] if self.default else list(self.pages.values()))
        }
        self._auth.update({token: _auth(token, ig_secret) for token in self.instagram.values()})

    def own(self, ask: Callable[[float], tuple[str, str]], wait: float) -> tuple[str, str] | None:
        """The single token's page and its linked Instagram account ("" for none), asked of
        Graph once per process with `ask`; None while unknown."""
        return self._own.get(ask, wait)

    def serves(self, account: str, own: tuple[str, str] | None) -> bool:
        """Whether we answer for this account. With a single token, while its page cannot be
        learned (`own` None), every account is served rather than none."""
        if account in self.instagram or account in self.linked:
            return True
        if self.default is None:
            return account in self.pages
        return own is None or account in own

    def route(self, account: str | None, own: tuple[str, str] | None = None) -> Route:
        """Where a call for `account` goes; with none named, the only (or first) page's."""
        if account in self.instagram:
            token = self.instagram[account]
            return Route(self.instagram_url, account, *self._auth[token], INSTAGRAM, True)
        if account in self.linked:
            page = self.linked[account]
            return Route(self.base_url, page, *self._auth[self._token(page)], INSTAGRAM)
        if account is not None and own is not None and own[1] and account == own[1]:
            return Route(self.base_url, own[0], *self._auth[self._token(None)], INSTAGRAM)
        token = self._token(account)
        return Route(self.base_url, account or "me", *self._auth[token], MESSENGER)

    def _token(self, page_id: str | None) -> str:
        """The page's token; with no page named, the only (or first) one."""
        if page_id is not None and page_id in self.pages:
            return self.pages[page_id]
        if self.default is not None:
            return self.default
        if page_id is None and self.pages:
            return next(iter(self.pages.values()))
        raise GraphError(f"no token for page {page_id}", sent=False)


def _auth(token: str, secret: str) -> tuple[dict[str, str], str]:
    """The header that carries the token, and the proof of the app's secret."""
    return {"Authorization": f"Bearer {token}"}, appsecret_proof(token, secret)
