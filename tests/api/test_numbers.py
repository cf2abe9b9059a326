"""Numbers and moments out of range are 422, never a 500: offsets, limits and positions
beyond what a database column holds (64 bits and more), and a share expiry with no UTC
equivalent."""

from __future__ import annotations

import pytest

HUGE = [2**31, 2**63, 2**64, 2**70, -(2**63) - 1]


@pytest.mark.parametrize("value", HUGE)
async def test_offsets_limits_and_positions_out_of_range_are_422(client, factory, value):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "text")
    h = owner.headers
    answers = [
        await client.get(f"/api/workspaces/{ws['id']}/search?q=text&offset={value}", headers=h),
        await client.get(f"/api/workspaces/{ws['id']}/search?q=text&limit={value}", headers=h),
        await client.get(f"/api/documents/{doc['id']}/versions?offset={value}", headers=h),
        await client.get(f"/api/documents/{doc['id']}/versions?limit={value}", headers=h),
        await client.patch(f"/api/documents/{doc['id']}", json={"position": value}, headers=h),
    ]
    assert [r.status_code for r in answers] == [422] * len(answers), [r.text for r in answers]
    r = await client.get(f"/api/documents/{doc['id']}", headers=h)
    assert r.json()["position"] == 0


async def test_a_share_expiry_without_a_utc_equivalent_is_422(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "text")
    for moment in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        r = await client.post(
            f"/api/documents/{doc['id']}/shares", json={"expires_at": moment}, headers=owner.headers
        )
        assert r.status_code == 422, (moment, r.text)
    r = await client.post(
        f"/api/documents/{doc['id']}/shares",
        json={"expires_at": "9999-12-31T23:59:59Z"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
