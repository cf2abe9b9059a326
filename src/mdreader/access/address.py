"""The client's address: the one function rate limits, sign-in throttles, sessions and
access logs ask. Forwarded addresses count only when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from mdreader.settings import Settings


def client_ip(request: HTTPConnection, trusted: list[str], header: str | None = None) -> str:
    """The client's address. Forwarded addresses count only when the peer is a trusted
    proxy; then ``header`` (``MDREADER_CLIENT_IP_HEADER``, e.g. CloudFront's
    ``CloudFront-Viewer-Address``, which the edge sets itself) when the request has it, else
    the right-most ``X-Forwarded-For`` hop that is not itself a trusted proxy."""
    peer = request.client.host if request.client else ""
    if not trusted or not in_networks(peer, trusted):
        return peer
    if header:
        viewer = address_of(request.headers.get(header.lower(), ""))
        if viewer:
            return viewer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop
    return peer


def scope_client_ip(scope: Scope, settings: Settings) -> str:
    """``client_ip`` for plain ASGI layers (rate limit, access log): without a trusted proxy
    the peer is read straight off the scope (every request passes there)."""
    trusted = settings.trusted_proxies
    if trusted:
        return client_ip(HTTPConnection(scope), trusted, settings.client_ip_header)
    peer: Any = scope.get("client")
    return str(peer[0]) if peer else ""


def address_of(value: str) -> str | None:
    """The address in ``198.51.100.7``, ``198.51.100.7:46532``, ``[2001:db8::1]:443`` or
    CloudFront's ``2001:db8::1:443`` (address, a colon, the viewer's port); None when it is
    not an address."""
    value = value.strip()
    if not value:
        return None
    candidates = []
    if value.startswith("[") and "]" in value:
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1 or (":" in value and "." not in value and value.count(":") > 1):
        # IPv4 with a port, or an IPv6 address followed by CloudFront's ":port".
        candidates.append(value.rsplit(":", 1)[0])
    candidates.append(value)
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False
