"""Cognito end to end on moto's user pool (server mode, real RS256 tokens and JWKS): the web
app's providers answer, a pool user works over REST and edits live over the WebSocket (the
stock Hocuspocus provider) with the pool's access token, a refreshed token keeps working, and
after sign-out (token revocation) the refresh token is dead.

What moto cannot do, so what is not here: the hosted UI and its OAuth endpoints (the
authorization code + PKCE exchange is tested in web/tests/cognito.test.ts), MFA during the
hosted UI's sign-in, social providers, and Lambda triggers (tests/test_cognito_migration.py
feeds the trigger Cognito's event shapes), and RevokeToken (GlobalSignOut stands in)."""

from __future__ import annotations

import httpx

from mdreader.app import create_app
from tests.backends.test_identity import Pool, bearer, cognito_settings, pool  # noqa: F401
from tests.collab.harness import InProcessServer, NodeClients


async def test_a_pool_user_signs_in_edits_live_refreshes_and_signs_out(
    tmp_path,
    database_url,
    outbox,
    pool: Pool,  # noqa: F811 (the fixture imported above)
    node: NodeClients,
):
    settings = cognito_settings(
        tmp_path,
        database_url,
        pool,
        cognito_domain="https://mdreader-test.auth.us-east-1.amazoncognito.com/",
        cognito_identity_providers=["Google"],
    )
    app = create_app(settings, mailer=outbox)
    async with (
        app.router.lifespan_context(app),
        InProcessServer(app) as live,
        httpx.AsyncClient(base_url=live.base, timeout=10) as client,
    ):
        providers = (await client.get("/api/auth/providers")).json()
        assert providers["provider"] == "cognito"
        assert providers["cognito"]["domain"] == settings.cognito_domain.rstrip("/")
        assert providers["cognito"]["identity_providers"] == ["Google"]

        username = pool.user("live@example.com")
        tokens = pool.tokens(username)
        access = tokens["AccessToken"]
        ws = await client.post("/api/workspaces", json={"name": "Pool"}, headers=bearer(access))
        assert ws.status_code == 201, ws.text
        doc = await client.post(
            f"/api/workspaces/{ws.json()['id']}/documents",
            json={"title": "Live", "content": "hello"},
            headers=bearer(access),
        )
        assert doc.status_code == 201, doc.text
        document_id = doc.json()["id"]

        # The collaboration WebSocket with the pool's access token.
        await node.open("pool", live.base, document_id, access)
        await node.wait("pool", "synced")
        await node.call("insert", cid="pool", index=None, text=" world")
        await node.wait("pool", "acked")
        read = await client.get(f"/api/documents/{document_id}", headers=bearer(access))
        assert read.json()["content"] == "hello world"

        # Refresh at the pool: the new access token names the same user.
        idp = pool.moto.client("cognito-idp")
        refreshed = idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )["AuthenticationResult"]
        me = await client.get("/api/auth/me", headers=bearer(refreshed["AccessToken"]))
        assert me.status_code == 200 and me.json()["email"] == "live@example.com"

        # Sign-out: the web app revokes its refresh token at the pool's /oauth2/revoke;
        # moto has neither that nor RevokeToken, so its GlobalSignOut stands in.
        idp.global_sign_out(AccessToken=access)
        try:
            idp.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
            )
            raise AssertionError("a revoked refresh token still refreshed")
        except idp.exceptions.NotAuthorizedException:
            pass
