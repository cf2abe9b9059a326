"""Comments live: real Hocuspocus providers see a thread appear, change and go as soon as it
is committed (a server event on the socket, the details over REST); their anchors are the
positions the Yjs clients made, and follow what they type. Nobody can speak for the server
on the socket, so a viewer (or anyone) cannot fake comment events, and comments are written
only through REST, where the policy decides."""

from __future__ import annotations

import json

from tests.collab.harness import NodeClients, eventually


def _events(state: dict) -> list[dict]:
    out = []
    for payload in state["stateless"]:
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("event") == "comments":
            out.append(value)
    return out


async def test_threads_appear_live_and_follow_typing(factory, live, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    viewer = await factory.member(ws, owner, "viewer")
    doc = await factory.document(ws, owner, "Plan", "The budget is tight.\n")
    for cid, user in (("owner", owner), ("editor", editor), ("viewer", viewer)):
        await node.open(cid, live.base, doc["id"], user.access_token)
        await node.wait(cid, "synced")

    text = "The budget is tight.\n"
    at = text.index("budget")
    start = (await node.call("relativePosition", cid="editor", index=at, assoc=0))["position"]
    end = (await node.call("relativePosition", cid="editor", index=at + 6, assoc=-1))["position"]
    url = f"/api/documents/{doc['id']}/comments"
    r = await factory.client.post(
        url,
        json={"body": "Which one?", "anchor": {"start": start, "end": end, "quote": "budget"}},
        headers=editor.headers,
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]

    async def told(cid: str, kind: str) -> None:
        async def check() -> None:
            events = _events(await node.state(cid))
            assert any(e["kind"] == kind and e["thread_id"] == tid for e in events), events

        await eventually(check)

    for cid in ("owner", "editor", "viewer"):  # viewers read comments live too
        await told(cid, "created")

    # The owner types before the range (UTF-16 text); the anchor follows, as the clients see it.
    await node.call("insert", cid="owner", index=0, text="Ünïcode 😀 ")
    await node.wait("owner", "acked")
    for cid in ("editor", "viewer"):
        await node.wait(cid, "text", "Ünïcode 😀 " + text)
    (thread,) = (await factory.client.get(url, headers=viewer.headers)).json()
    client_start = (await node.call("absolutePosition", cid="viewer", position=start))["index"]
    client_end = (await node.call("absolutePosition", cid="viewer", position=end))["index"]
    assert (
        thread["anchor"]["offset"]
        == client_start
        == at + len("Ünïcode 😀 ".encode("utf-16-le")) // 2
    )
    assert thread["anchor"]["length"] == client_end - client_start == 6

    # Replies, resolving and deleting reach everyone as they are committed.
    r = await factory.client.post(
        f"{url}/{tid}/replies", json={"body": "Q3"}, headers=owner.headers
    )
    assert r.status_code == 201
    await told("viewer", "replied")
    assert (
        await factory.client.post(f"{url}/{tid}/resolve", headers=owner.headers)
    ).status_code == 200
    await told("editor", "resolved")

    # The range's text is deleted live: the thread stays, marked orphaned.
    state = await node.state("editor")
    begin = state["text"].index("budget")
    await node.call("remove", cid="editor", index=begin, length=len("budget "))
    await node.wait("editor", "acked")
    (thread,) = (await factory.client.get(url, headers=owner.headers)).json()
    assert thread["orphaned"] is True and thread["anchor"]["quote"] == "budget"

    assert (await factory.client.delete(f"{url}/{tid}", headers=editor.headers)).status_code == 204
    await told("owner", "deleted")


async def test_nobody_speaks_for_the_server_on_the_socket(factory, live, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    viewer = await factory.member(ws, owner, "viewer")
    doc = await factory.document(ws, owner, "Plan", "text\n")
    for cid, user in (("owner", owner), ("editor", editor), ("viewer", viewer)):
        await node.open(cid, live.base, doc["id"], user.access_token)
        await node.wait(cid, "synced")
    forged = json.dumps({"event": "comments", "kind": "created", "thread_id": "x"})
    await node.call("stateless", cid="viewer", payload=forged)
    await node.call("stateless", cid="editor", payload=forged)
    await node.call("stateless", cid="editor", payload=" " + forged.replace("event", "\\u0065vent"))
    await node.call("stateless", cid="editor", payload="hello")  # ordinary relaying still works
    await eventually(lambda: _has(node, "owner", "hello"))
    await eventually(lambda: _has(node, "viewer", "hello"))
    for cid in ("owner", "viewer"):
        assert _events(await node.state(cid)) == []
    # The viewer cannot comment through REST either (the workspace grants no commenter).
    r = await factory.client.post(
        f"/api/documents/{doc['id']}/comments", json={"body": "hi"}, headers=viewer.headers
    )
    assert r.status_code == 403
    assert (
        await factory.client.get(f"/api/documents/{doc['id']}/comments", headers=owner.headers)
    ).json() == []


async def _has(node: NodeClients, cid: str, payload: str) -> None:
    assert payload in (await node.state(cid))["stateless"]
