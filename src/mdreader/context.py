"""The long-lived parts of a running MDReader, as request handlers and workers reach them.

Built once, in the app's lifespan (or by a command), by ``mdreader.runtime``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mdreader.backends.cache import Cache
from mdreader.backends.identity import IdentityProvider
from mdreader.backends.mail import Mailer, MailQueue, Templates
from mdreader.backends.ratelimit import RateLimiter
from mdreader.backends.redis_status import RedisStatus
from mdreader.backends.storage import Storage
from mdreader.db import Database
from mdreader.observability import Metrics
from mdreader.render import Renderer
from mdreader.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mdreader.auth.oidc import OidcProviders
    from mdreader.collab import CollabServer
    from mdreader.services.compaction import Compactor
    from mdreader.services.documents import EditQueue
    from mdreader.services.transfer import Attachments
    from mdreader.services.versions import Versioner
    from mdreader.services.webhooks import Dispatcher


@dataclass(frozen=True, kw_only=True)
class Backends:
    """The immutable parts: settings and the interfaces to the outside (database, cache,
    rate limits, mail, files, identity), built first in the lifespan (``mdreader.runtime``).
    Workers are constructed with these (and with the other workers they need)."""

    settings: Settings
    db: Database
    cache: Cache
    limiter: RateLimiter
    mailer: Mailer
    templates: Templates
    metrics: Metrics
    storage: Storage
    identity: IdentityProvider
    # Markdown rendered off the event loop, once per text (share pages, /html).
    renderer: Renderer
    mail: MailQueue  # sends, and retries what the mail server did not take
    redis: Redis | None = None
    redis_status: RedisStatus | None = None  # shared by the cache, limiter and bus
    secret_key: str = field(default="", repr=False)


@dataclass(frozen=True, kw_only=True)
class Services(Backends):
    """The backends and the long-lived workers, as request handlers reach them; built once
    every worker runs (``mdreader.runtime.build_services``)."""

    versioner: Versioner
    compactor: Compactor
    # Reads and stores files for export and import (the storage backend's adapter).
    attachments: Attachments
    edits: EditQueue  # group commit of document PATCHes
    webhooks: Dispatcher  # sends queued webhook deliveries
    collab: CollabServer
    oidc: OidcProviders | None = None  # single sign-on providers, when configured
