"""Building a running MDReader: the backends, then the workers, in the app's lifespan (and
for the commands that need them), torn down in the reverse order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import fields
from typing import TYPE_CHECKING

from mdreader import fast
from mdreader.backends.cache import Cache, MemoryCache, RedisCache
from mdreader.backends.identity import create_identity_provider
from mdreader.backends.mail import Mailer, MailQueue, Templates, create_mailer
from mdreader.backends.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from mdreader.backends.redis_status import RedisStatus
from mdreader.backends.secrets import DatabaseCredentials, secrets_source
from mdreader.backends.storage import create_storage
from mdreader.collab import build_collab
from mdreader.context import Backends, Services
from mdreader.db import Database
from mdreader.observability import Metrics
from mdreader.render import Renderer
from mdreader.services.audit import pruner
from mdreader.services.compaction import Compactor
from mdreader.services.documents import EditQueue
from mdreader.services.files import StoredAttachments
from mdreader.services.notifications import Digest
from mdreader.services.versions import Versioner
from mdreader.services.webhooks import dispatcher
from mdreader.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

REDIS_CONNECTIONS = 100  # per process
REDIS_WAIT = 5.0  # seconds a command waits for a free connection
# A Redis that stopped answering (not only one that refuses) is an outage, not a stall.
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 5.0


def database_credentials(settings: Settings) -> DatabaseCredentials | None:
    """With a Secrets Manager prefix, the database password is re-read after a rotation."""
    if not settings.secrets_manager_prefix:
        return None
    return DatabaseCredentials(settings.secrets_manager_prefix, secrets_source())


@asynccontextmanager
async def build_services(
    settings: Settings, metrics: Metrics, mailer: Mailer | None = None
) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        url, credentials = settings.resolved_database_url, database_credentials(settings)
        parts = fast.database_parts(url, credentials) if settings.fast_paths else None
        db = Database(
            url,
            settings.read_database_url,
            pool_size=settings.db_pool_size,
            echo=settings.db_echo,
            credentials=credentials,
            stamp=parts.stamp if parts else None,
            inline=parts.inline if parts else None,
        )
        stack.push_async_callback(db.dispose)
        redis: Redis | None = None
        redis_status: RedisStatus | None = None
        cache: Cache
        limiter: RateLimiter
        if settings.redis_url:
            from redis.asyncio import BlockingConnectionPool, Redis

            # A request waits its turn for a connection when all are busy: redis-py's own
            # pool refuses at once beyond 100 (a burst of sign-ins would answer 500).
            pool = BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=REDIS_CONNECTIONS,
                timeout=REDIS_WAIT,
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                socket_timeout=REDIS_SOCKET_TIMEOUT,
            )
            stack.push_async_callback(pool.disconnect)
            redis = Redis(connection_pool=pool)
            stack.push_async_callback(redis.aclose)
            redis_status = RedisStatus()
            cache = RedisCache(redis, status=redis_status)
            limiter = RedisRateLimiter(redis, status=redis_status)
        else:
            cache = MemoryCache()
            limiter = MemoryRateLimiter()
        backends = Backends(
            settings=settings,
            db=db,
            cache=cache,
            limiter=limiter,
            mailer=(mailer := mailer or create_mailer(settings)),
            templates=Templates(),
            metrics=metrics,
            storage=create_storage(settings),
            identity=create_identity_provider(settings, settings.resolved_secret_key),
            renderer=await stack.enter_async_context(Renderer()),
            mail=await stack.enter_async_context(MailQueue(mailer, settings.email_retry_delay)),
            redis=redis,
            redis_status=redis_status,
            secret_key=settings.resolved_secret_key,
        )
        oidc = None
        if settings.oidc_providers:
            # Imported only when configured: authlib and its crypto weigh on a cold start.
            from mdreader.auth.oidc import OidcProviders

            oidc = OidcProviders(settings.oidc_providers)
        # The workers, each with what it needs, entered in order and left in reverse. The
        # versioner is entered before the compactor so that it exits after it: the
        # compactor's last flush may schedule versions, which the versioner's exit then takes.
        versioner: Versioner = await stack.enter_async_context(
            Versioner(backends, settings.version_quiet_period)
        )
        compactor: Compactor = await stack.enter_async_context(Compactor(backends, versioner))
        webhooks = await stack.enter_async_context(dispatcher(backends))
        await stack.enter_async_context(pruner(backends))
        await stack.enter_async_context(Digest(backends, settings.notification_digest_interval))
        collab = await stack.enter_async_context(build_collab(backends, compactor))
        services = Services(
            **{f.name: getattr(backends, f.name) for f in fields(Backends)},
            versioner=versioner,
            compactor=compactor,
            attachments=StoredAttachments(backends),
            edits=EditQueue(backends, collab, compactor),
            webhooks=webhooks,
            collab=collab,
            oidc=oidc,
        )
        yield services
