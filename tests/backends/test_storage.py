"""One contract for every Storage: local disk and S3 (moto in server mode)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mdreader.backends.storage import LocalStorage, S3Storage, Storage, create_storage
from tests.conftest import Moto, make_settings


@pytest.fixture(params=["local", "s3"])
async def storage(request, tmp_path) -> AsyncIterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
        return
    moto: Moto = request.getfixturevalue("moto")
    settings = make_settings(
        tmp_path,
        "sqlite+aiosqlite://",
        storage="s3",
        s3_bucket=f"files-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=moto.endpoint,
        s3_region=moto.region,
    )
    s3 = create_storage(settings)
    assert isinstance(s3, S3Storage)
    s3.ensure_bucket()
    yield s3


async def test_put_get_delete_round_trip(storage: Storage):
    key = f"files/{uuid.uuid4().hex}/{uuid.uuid4().hex}"
    assert await storage.get(key) is None
    await storage.put(key, b"\x89PNG\r\n\x1a\nbytes", "image/png")
    assert await storage.get(key) == b"\x89PNG\r\n\x1a\nbytes"
    await storage.put(key, b"replaced", "text/plain")
    assert await storage.get(key) == b"replaced"
    await storage.delete(key)
    assert await storage.get(key) is None
    await storage.delete(key)  # deleting twice is fine


async def test_keys_cannot_escape(storage: Storage):
    for bad in ("../etc/passwd", "/abs", "a/../../b", "a//b", "", "a/b c"):
        with pytest.raises(ValueError):
            await storage.put(bad, b"x", "text/plain")


async def test_ping(storage: Storage):
    await storage.ping()


async def test_url_is_none_locally_or_a_short_lived_signed_link(storage: Storage):
    key = f"files/{uuid.uuid4().hex}"
    await storage.put(key, b"<svg onload=alert(1)>", "image/svg+xml")
    link = await storage.url(key, filename="a b.svg", content_type="image/svg+xml", inline=False)
    if isinstance(storage, LocalStorage):
        assert link is None
        return
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["300"]
    async with httpx.AsyncClient() as client:
        r = await client.get(link)
    assert r.status_code == 200
    assert r.content == b"<svg onload=alert(1)>"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "image/svg+xml"


async def test_s3_bucket_keeps_versions(moto: Moto, tmp_path):
    client = moto.client("s3")
    s3 = S3Storage(client, f"versions-{uuid.uuid4().hex[:12]}")
    s3.ensure_bucket()
    assert client.get_bucket_versioning(Bucket=s3.bucket)["Status"] == "Enabled"
    await s3.put("files/a", b"one", "text/plain")
    await s3.put("files/a", b"two", "text/plain")
    await s3.delete("files/a")
    versions = client.list_object_versions(Bucket=s3.bucket, Prefix="files/a")
    assert len(versions["Versions"]) == 2  # both contents survive the delete
    assert len(versions["DeleteMarkers"]) == 1


def test_s3_path_style_for_minio_and_cdn_links(tmp_path):
    settings = make_settings(
        tmp_path,
        "sqlite+aiosqlite://",
        storage="s3",
        s3_bucket="bucket",
        s3_endpoint_url="http://minio.local:9000",
        s3_region="us-east-1",
        cdn_base_url="https://cdn.example.com",
        s3_url_ttl=60,
    )
    s3 = create_storage(settings)
    assert isinstance(s3, S3Storage)
    assert s3.client.meta.config.s3["addressing_style"] == "path"
    import asyncio

    link = asyncio.run(s3.url("files/x", filename="x.png", content_type="image/png", inline=True))
    assert link is not None
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cdn.example.com", "/files/x")
    assert parse_qs(parts.query)["X-Amz-Expires"] == ["60"]


async def test_cloudfront_signed_urls_for_files_behind_origin_access_control(moto):
    """With a CloudFront key pair the link is a CloudFront signed URL on the CDN host, which
    CloudFront checks with the distribution's public key before reading the bucket (OAC)."""
    import base64
    import json
    import time
    from urllib.parse import parse_qs, urlsplit

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from mdreader.backends.storage import S3Storage

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    storage = S3Storage(
        moto.client("s3"),
        "uploads",
        url_ttl=300,
        cdn_base_url="https://docs.example.com/",
        cloudfront_key_id="K2JCJMDEHXQW5F",
        cloudfront_private_key=pem,
    )
    link = await storage.url(
        "files/abc/def", filename="Plan ü.pdf", content_type="application/pdf", inline=False
    )
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "docs.example.com",
        "/files/abc/def",
    )
    query = parse_qs(parts.query)
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    expires = int(query["Expires"][0])
    assert 0 < expires - time.time() <= 300
    # CloudFront's check: the canned policy of the URL without its signature parameters.
    resource = link.split("&Expires=")[0]
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    )
    signature = query["Signature"][0].replace("-", "+").replace("_", "=").replace("~", "/")
    private.public_key().verify(
        base64.b64decode(signature), policy.encode(), padding.PKCS1v15(), hashes.SHA1()
    )
