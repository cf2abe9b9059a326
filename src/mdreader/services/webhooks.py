"""Webhooks: a workspace's events POSTed as signed JSON to the URLs its admins choose.

Each event becomes one ``webhook_deliveries`` row per matching webhook, written in the same
transaction as the change when there is one (``emit``), so nothing is announced that did not
happen and nothing that happened is lost. The ``Dispatcher`` (entered in the app's lifespan)
claims due rows and POSTs them: 2xx is delivered; anything else is tried again after
``MDREADER_WEBHOOK_RETRY_DELAY`` seconds, twice as long each time, up to
``MDREADER_WEBHOOK_MAX_ATTEMPTS``. The rows are the queue, so a restart loses nothing: the
next process finds them. A webhook whose attempts fail ``MDREADER_WEBHOOK_DISABLE_AFTER`` times
in a row is switched off (an admin switches it on again).

Signature: ``X-MDReader-Signature: sha256=HEX`` with HEX = HMAC-SHA256(secret,
``"{timestamp}.{body}"``) and ``X-MDReader-Timestamp`` the Unix time of the attempt; a receiver
recomputes it and refuses a timestamp more than a few minutes old (replays).

SSRF: a URL whose host is or resolves to a private, loopback, link-local, multicast or
reserved address is refused when it is saved and again before every attempt (DNS may have
changed), unless ``MDREADER_WEBHOOK_ALLOW_PRIVATE``; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Backends, Services
from mdreader.db.models import Webhook, WebhookDelivery
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.schemas import WebhookEvent

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mdreader.webhooks")

EVENTS: tuple[str, ...] = get_args(WebhookEvent.__value__)  # what a webhook may ask for
LEASE = timedelta(seconds=120)  # a claimed delivery is tried again after this if unanswered
BATCH = 20
LOG_KEPT = 50  # deliveries a webhook's log shows


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _cache_key(workspace_id: uuid.UUID) -> str:
    return f"hooks:{workspace_id}"


# --- where a webhook may point -------------------------------------------------------------


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, allow_private: bool) -> None:
    """422 for a URL that is not http(s), or whose host is (or resolves to) an address in a
    private, loopback or otherwise non-public range while those are not allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AppError(422, "A webhook URL must be an http:// or https:// address.", "invalid_url")
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        raise AppError(
            422, f"The host {host} of the webhook URL cannot be found.", "invalid_url"
        ) from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or any(_refused(a) for a in addresses):
        raise AppError(
            422,
            f"The webhook URL points to a private or local address ({host}); "
            "only public addresses are allowed here.",
            "private_target",
        )


# --- emitting ------------------------------------------------------------------------------


async def _hooks_for(
    services: Services, session: AsyncSession, workspace_id: uuid.UUID
) -> list[tuple[uuid.UUID, list[str]]]:
    """The workspace's active webhooks and their events (cached: most workspaces have none,
    and a document write should not pay a query to learn that)."""
    raw = await services.cache.get(_cache_key(workspace_id))
    if raw is not None:
        return [(uuid.UUID(i), events) for i, events in json.loads(raw)]
    rows = await session.execute(
        select(Webhook.id, Webhook.events).where(
            Webhook.workspace_id == workspace_id, Webhook.active.is_(True)
        )
    )
    hooks = [(hid, json.loads(events)) for hid, events in rows]
    await services.cache.set(
        _cache_key(workspace_id),
        json.dumps([[str(i), e] for i, e in hooks]).encode(),
        services.settings.session_cache_ttl,
    )
    return hooks


async def emit(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    event: str,
    data: dict[str, Any],
) -> None:
    """Queue ``event`` for the workspace's webhooks that want it, in ``session``'s
    transaction."""
    assert event in EVENTS, event
    hooks = [
        hid for hid, events in await _hooks_for(services, session, workspace_id) if event in events
    ]
    if not hooks:
        return
    now = utcnow()
    for hid in hooks:
        delivery_id = uuid.uuid4()
        payload = {
            "id": str(delivery_id),
            "event": event,
            "created_at": now.isoformat(),
            "workspace_id": str(workspace_id),
            "data": data,
        }
        session.add(
            WebhookDelivery(
                id=delivery_id,
                webhook_id=hid,
                event=event,
                payload=json.dumps(payload, default=str),
                next_attempt_at=now,
            )
        )
    services.webhooks.wake()


async def emit_now(
    services: Services, workspace_id: uuid.UUID, event: str, data: dict[str, Any]
) -> None:
    """``emit`` in a transaction of its own (for writes that commit elsewhere)."""
    async with services.db.session() as session:
        await emit(services, session, workspace_id, event, data)


# --- managing ------------------------------------------------------------------------------


async def create(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    url: str,
    events: list[str],
) -> Webhook:
    await check_target(url, services.settings.webhook_allow_private)
    hook = Webhook(
        workspace_id=workspace_id,
        url=url,
        secret="whsec_" + secrets.token_urlsafe(32),
        events=json.dumps(sorted(set(events))),
        active=True,
        failures=0,
        created_by=user_id,
    )
    session.add(hook)
    await session.flush()
    await services.cache.delete(_cache_key(workspace_id))
    return hook


async def get(session: AsyncSession, workspace_id: uuid.UUID, hook_id: uuid.UUID) -> Webhook:
    hook = await session.get(Webhook, hook_id)
    if hook is None or hook.workspace_id != workspace_id:
        raise AppError(404, "Webhook not found.", "not_found")
    return hook


async def change(
    services: Services,
    session: AsyncSession,
    hook: Webhook,
    *,
    url: str | None,
    events: list[str] | None,
    active: bool | None,
) -> Webhook:
    if url is not None:
        await check_target(url, services.settings.webhook_allow_private)
        hook.url = url
    if events is not None:
        hook.events = json.dumps(sorted(set(events)))
    if active is not None:
        hook.active = active
        if active:
            hook.failures, hook.disabled_reason = 0, None
    await services.cache.delete(_cache_key(hook.workspace_id))
    return hook


async def remove(services: Services, session: AsyncSession, hook: Webhook) -> None:
    await session.delete(hook)
    await services.cache.delete(_cache_key(hook.workspace_id))


async def deliveries(session: AsyncSession, hook_id: uuid.UUID) -> list[WebhookDelivery]:
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook_id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(LOG_KEPT)
    )
    return list(rows)


# --- delivering ----------------------------------------------------------------------------


class Dispatcher:
    """Claims due deliveries and POSTs them, in the background of each server process.
    A claim moves the row's ``next_attempt_at`` a lease ahead with a compare-and-set, so two
    processes never send the same attempt."""

    def __init__(self, services: Backends) -> None:
        self.services = services
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wake.set()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made for the first delivery: a process that sends none (a Lambda
        execution environment, mostly) never loads httpx nor builds its TLS context."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=self.services.settings.webhook_timeout,
                follow_redirects=False,
                headers={"User-Agent": "MDReader-Webhooks/1", "Content-Type": "application/json"},
            )
        return self._client

    async def __aenter__(self) -> Dispatcher:
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        interval = self.services.settings.webhook_poll_interval
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away for a moment: try again later
                log.exception("webhook dispatch failed")
                busy = 0
            if busy:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim and send what is due; the number of attempts made."""
        now = utcnow()
        async with self.services.db.session() as session:
            due = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(BATCH)
                )
            ).all()
        claimed: list[uuid.UUID] = []
        for delivery_id, at in due:
            async with self.services.db.session() as session:
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at == at,
                    )
                    .values(next_attempt_at=now + LEASE)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(delivery_id)
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _attempt(self, delivery_id: uuid.UUID) -> None:
        settings = self.services.settings
        async with self.services.db.session() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            hook = await session.get(Webhook, delivery.webhook_id) if delivery else None
            if delivery is None or hook is None:
                return
            if not hook.active:
                delivery.status, delivery.last_error = "failed", "The webhook is switched off."
                return
            url, secret, body = hook.url, hook.secret, delivery.payload.encode()
            event = delivery.event
        code, error = await self._post(url, secret, event, delivery_id, body)
        ok = code is not None and 200 <= code < 300
        async with self.services.db.session() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            # Locked: two deliveries of one webhook failing at once each add their failure
            # (read unlocked, PostgreSQL's second writer would overwrite the first's count).
            hook = await session.get(Webhook, hook.id, with_for_update=True)
            if delivery is None or hook is None:
                return
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_error = code, error
            if ok:
                delivery.status, delivery.delivered_at = "delivered", utcnow()
                hook.failures = 0
                return
            hook.failures += 1
            if delivery.attempts >= settings.webhook_max_attempts:
                delivery.status = "failed"
            else:
                delay = settings.webhook_retry_delay * 2 ** (delivery.attempts - 1)
                delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
            if hook.active and hook.failures >= settings.webhook_disable_after:
                hook.active = False
                hook.disabled_reason = (
                    f"Switched off after {hook.failures} failed attempts in a row "
                    f"(last: {f'HTTP {code}' if code else error})."
                )[:300]
                await self.services.cache.delete(_cache_key(hook.workspace_id))
                log.warning("webhook %s switched off: %s", hook.id, hook.disabled_reason)

    async def _post(
        self, url: str, secret: str, event: str, delivery_id: uuid.UUID, body: bytes
    ) -> tuple[int | None, str | None]:
        try:
            await check_target(url, self.services.settings.webhook_allow_private)
        except AppError as exc:
            return None, exc.detail
        timestamp = int(time.time())
        headers = {
            "X-MDReader-Event": event,
            "X-MDReader-Delivery": str(delivery_id),
            "X-MDReader-Timestamp": str(timestamp),
            "X-MDReader-Signature": sign(secret, timestamp, body),
        }
        import httpx

        try:
            response = await self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        if 300 <= response.status_code < 400:
            return response.status_code, "Redirects are not followed."
        return response.status_code, None if response.is_success else response.text[:200]


@asynccontextmanager
async def dispatcher(services: Backends) -> AsyncIterator[Dispatcher]:
    async with Dispatcher(services) as running:
        yield running
