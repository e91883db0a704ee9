"""Who is calling: the user of the request's API key, or the local user on a server that has no keys.

A server with no keys at all serves the embedded default user, and only to callers on the loopback
interface (``memgpt server`` also refuses to listen anywhere else until a key exists). Once a key exists,
every request needs one; a key names its user, and every store query is scoped by that user, so another
user's agent answers 404 as if it did not exist. Keys are never logged.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from memgpt.client import Client
from memgpt.identity import LOCAL_USER_ID

KEYS_CHECK_S = 5.0  # how long "this server has keys" is taken to hold before it is read again
_checked: dict[int, tuple[float, bool]] = {}


def server_client(request: Request) -> Client:
    client: Client = request.app.state.memgpt.client
    return client


async def caller(request: Request) -> Client:
    """The client of the calling user (a FastAPI dependency)."""
    return await authorized(server_client(request), request)


async def authorized(root: Client, request: Request) -> Client:
    """The client of the user ``request`` authenticates as (HTTPException 401 if it does not)."""
    header = request.headers.get("authorization")
    if await _has_keys(root):
        if header is None:
            raise HTTPException(
                401,
                "This server needs an API key: send 'Authorization: Bearer <key>' (memgpt keys create --user NAME).",
            )
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "Send the key as 'Authorization: Bearer <API key>'.")
        user = await root.authenticate(token.strip())
        if user is None:
            raise HTTPException(401, "The API key is not known or was revoked.")
        return root.as_user(user.id, via=_channel(request))
    # No keys at all: whatever an SDK sends as its key (the OpenAI SDK insists on one) is the local user.
    if not from_this_machine(request):
        raise HTTPException(401, "Without API keys this server answers only on this machine; create a key first.")
    return root.as_user(LOCAL_USER_ID, via=_channel(request))


def _channel(request: Request) -> str:
    """What a user's memory edit came through, for the block's history: the web UI says so, anything else is
    the API (informational: a caller can claim either)."""
    return "ui" if request.headers.get("x-memgpt-channel", "").strip().lower() == "ui" else "api"


FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")


def from_this_machine(request: Request) -> bool:
    """A request made on this machine, to this machine: the peer is loopback, and so are the Host it asked
    for and the Origin of the page that sent it. A loopback peer alone is not enough: a proxy on this
    machine forwards the world's requests, and a web page whose name was rebound to 127.0.0.1 (DNS
    rebinding) sends its own Host and Origin."""
    peer = request.client.host if request.client else ""
    if not is_loopback(peer) or any(name in request.headers for name in FORWARDED):
        return False
    if not is_loopback(_hostname(request.headers.get("host", ""))):
        return False
    origin = request.headers.get("origin")
    return origin is None or is_loopback(_hostname(urlsplit(origin).netloc))


def _hostname(authority: str) -> str:
    """``host`` of ``host:port`` (IPv6 in brackets)."""
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


async def _has_keys(client: Client) -> bool:
    now = time.monotonic()
    cached = _checked.get(id(client.store))
    if cached is not None and now - cached[0] < KEYS_CHECK_S:
        return cached[1]
    found = await client.has_api_keys()
    _checked[id(client.store)] = (now, found)
    return found


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Caller = Annotated[Client, Depends(caller)]
