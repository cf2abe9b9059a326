"""File storage: a directory on local disk, or an S3 bucket (AWS, MinIO).

Keys are made by the server (``files/<workspace>/<file id>``), never from user input; the
local backend still refuses anything that could leave its root.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from mdreader.settings import Settings

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


class StorageError(Exception):
    """The backend failed (unreachable, permission), as opposed to a missing object."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    async def delete(self, key: str) -> None: ...

    async def url(self, key: str, *, filename: str, content_type: str, inline: bool) -> str | None:
        """A short-lived link the client may fetch the object from directly, or None when the
        app must serve the bytes itself."""

    async def ping(self) -> None: ...


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


def content_disposition(filename: str, inline: bool) -> str:
    """RFC 6266 with an ASCII fallback and the exact UTF-8 name."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class LocalStorage:
    """Files under a directory (the data dir); written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"not a storage key: {key!r}")
        return path

    def _put_sync(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put_sync, key, data)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def url(self, key: str, *, filename: str, content_type: str, inline: bool) -> str | None:
        return None

    async def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")


class S3Storage:
    """An S3 bucket. Objects are fetched by the client through short-lived presigned links
    (optionally on a CloudFront host in front of the bucket); the bucket keeps versions, so a
    deleted or overwritten file can be recovered."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        url_ttl: int = 300,
        cdn_base_url: str | None = None,
        redirect: bool = True,
        cloudfront_key_id: str | None = None,
        cloudfront_private_key: str | None = None,
    ) -> None:
        self.client = client
        self.redirect = redirect
        self._cloudfront = (
            _cloudfront_signer(cloudfront_key_id, cloudfront_private_key)
            if cdn_base_url and cloudfront_key_id and cloudfront_private_key
            else None
        )
        self.bucket = bucket
        self.url_ttl = url_ttl
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            # MinIO and other S3-compatible servers want path-style addressing.
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            config=config,
        )
        assert settings.s3_bucket
        return cls(
            client,
            settings.s3_bucket,
            url_ttl=settings.s3_url_ttl,
            cdn_base_url=settings.cdn_base_url,
            redirect=settings.s3_downloads == "redirect",
            cloudfront_key_id=settings.cloudfront_key_id,
            cloudfront_private_key=settings.cloudfront_private_key,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket (when missing) with versioning on. Deployments create it with
        CloudFormation; this serves MinIO set-ups and tests."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            region = self.client.meta.region_name
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            self.client.create_bucket(**kwargs)
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    def _get_sync(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body = response["Body"]
        try:
            data: bytes = body.read()
            return data
        finally:
            body.close()

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get_sync, key)

    async def delete(self, key: str) -> None:
        # On a versioned bucket this adds a delete marker; older versions stay recoverable.
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))

    async def url(self, key: str, *, filename: str, content_type: str, inline: bool) -> str | None:
        if not self.redirect:
            return None  # the app serves the bytes itself (an endpoint browsers cannot reach)
        if self._cloudfront is not None and self.cdn_base_url:
            # Served by CloudFront from the bucket (origin access control): a CloudFront
            # signed URL, valid url_ttl seconds; S3 sets the two response headers.
            query = urlencode(
                {
                    "response-content-type": content_type,
                    "response-content-disposition": content_disposition(filename, inline),
                },
                quote_via=quote,
            )
            unsigned = f"{self.cdn_base_url}/{quote(check_key(key))}?{query}"
            expires = datetime.now(UTC) + timedelta(seconds=self.url_ttl)
            return str(self._cloudfront.generate_presigned_url(unsigned, date_less_than=expires))
        link: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition(filename, inline),
            },
            ExpiresIn=self.url_ttl,
        )
        if self.cdn_base_url:
            cdn = urlsplit(self.cdn_base_url)
            parts = urlsplit(link)
            path = parts.path
            prefix = f"/{self.bucket}"
            if path.startswith(prefix + "/"):  # path-style: the CDN's origin is the bucket
                path = path[len(prefix) :]
            link = urlunsplit((cdn.scheme, cdn.netloc, cdn.path + path, parts.query, ""))
        return link

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)


def _cloudfront_signer(key_id: str, private_key_pem: str) -> Any:
    """botocore's CloudFront URL signer with an RSA key (SHA-1 with PKCS#1 v1.5, which is
    what CloudFront's signed URLs use)."""
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)

    def sign(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # type: ignore[union-attr,call-arg,arg-type]  # noqa: S303

    return CloudFrontSigner(key_id, sign)


def create_storage(settings: Settings) -> Storage:
    if settings.storage == "s3":
        return S3Storage.from_settings(settings)
    return LocalStorage(settings.files_dir)
