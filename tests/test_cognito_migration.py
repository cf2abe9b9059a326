"""The Cognito user-migration trigger, fed the events Cognito sends (shapes as in the Cognito
developer guide, "Migrate user Lambda trigger"), against the real database: existing
Argon2id and bcrypt passwords move people into the pool without a reset.

moto's Cognito stores a pool's LambdaConfig but never invokes triggers, so the events are
handed to the function here the way Lambda would (JSON in, JSON out)."""

from __future__ import annotations

import json
import uuid

import bcrypt
import pytest

from mdreader.cognito_migration import MigrationRefused, Migrator
from mdreader.db.models import User
from tests.conftest import PASSWORD, Factory


def event(trigger: str, username: str, password: str | None = None) -> dict:
    """A user-migration event as Cognito sends it (JSON, nulls included)."""
    request: dict = {"validationData": None, "clientMetadata": None}
    if password is not None:
        request["password"] = password
    raw = {
        "version": "1",
        "triggerSource": trigger,
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_EXAMPLE",
        "userName": username,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": "1example23456789",
        },
        "request": request,
        "response": {
            "userAttributes": None,
            "finalUserStatus": None,
            "messageAction": None,
            "desiredDeliveryMediums": None,
            "forceAliasCreation": None,
            "enableSMSMFA": None,
        },
    }
    return json.loads(json.dumps(raw))


@pytest.fixture
def migrator(settings):
    m = Migrator(settings)
    yield m
    m.close()


async def _bcrypt_user(app, email: str) -> None:
    """An account from an older MDReader, whose hash is bcrypt."""
    async with app.state.services.db.session() as session:
        session.add(
            User(
                email=email,
                name="Old Timer",
                password_hash=bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
                email_verified=True,
            )
        )


def _call(migrator: Migrator, ev: dict) -> dict:
    """As Lambda does: the answer must survive JSON."""
    return json.loads(json.dumps(migrator(ev, None)))


async def test_sign_in_migrates_argon2_and_bcrypt_accounts(app, factory: Factory, migrator):
    argon = await factory.user("argon", verify=True)  # registered through the API: Argon2id
    old = f"old-{uuid.uuid4().hex[:6]}@example.com"
    await _bcrypt_user(app, old)
    for email, name in ((argon.email, "argon"), (old, "Old Timer")):
        answer = await _to_thread(
            _call, migrator, event("UserMigration_Authentication", email.upper(), PASSWORD)
        )
        response = answer["response"]
        assert response["finalUserStatus"] == "CONFIRMED"
        assert response["messageAction"] == "SUPPRESS"
        assert response["userAttributes"] == {
            "email": email,
            "email_verified": "true",
            "name": name,
        }
        assert answer["userName"] == email.upper()  # the rest of the event comes back as sent


async def test_wrong_password_unknown_and_moved_accounts_are_refused(app, factory, migrator):
    user = await factory.user("someone")
    refused = [
        event("UserMigration_Authentication", user.email, "Wrong-pass-1"),
        event("UserMigration_Authentication", "nobody@example.com", PASSWORD),
        event("UserMigration_ForgotPassword", "nobody@example.com"),
        event("PreSignUp_SignUp", user.email, PASSWORD),
    ]
    for ev in refused:
        with pytest.raises(MigrationRefused):
            await _to_thread(_call, migrator, ev)
    # Once linked to a Cognito user, the account is not migrated a second time.
    async with app.state.services.db.session() as session:
        row = await session.get(User, uuid.UUID(user.id))
        row.external_id = str(uuid.uuid4())
    with pytest.raises(MigrationRefused):
        await _to_thread(
            _call, migrator, event("UserMigration_Authentication", user.email, PASSWORD)
        )


async def test_forgot_password_migrates_without_a_password(factory, migrator):
    user = await factory.user("forgetful")
    answer = await _to_thread(_call, migrator, event("UserMigration_ForgotPassword", user.email))
    response = answer["response"]
    assert response["messageAction"] == "SUPPRESS"
    assert response["userAttributes"]["email"] == user.email
    assert response["userAttributes"]["email_verified"] == "true"  # so Cognito sends the code
    assert "finalUserStatus" not in response or response["finalUserStatus"] is None


async def _to_thread(fn, *args):
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def test_an_unverified_address_stays_unverified_on_sign_in(factory, migrator):
    user = await factory.user("unverified")
    answer = await _to_thread(
        _call, migrator, event("UserMigration_Authentication", user.email, PASSWORD)
    )
    # The API then links by e-mail only once Cognito has verified the address itself.
    assert answer["response"]["userAttributes"]["email_verified"] == "false"
