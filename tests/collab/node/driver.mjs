// Drives real Yjs clients for the Python tests: one JSON command per stdin line, one JSON
// answer per stdout line ({id, ok, ...}). Clients are @hocuspocus/provider (4.x) providers,
// optionally sharing one HocuspocusProviderWebsocket, or y-websocket providers.
import readline from "node:readline";
import WebSocket from "ws";
import * as Y from "yjs";
import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import { WebsocketProvider } from "y-websocket";

const sockets = new Map();
const clients = new Map();

function out(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

function track(cid, kind, doc) {
  const c = {
    cid, kind, doc, text: doc.getText("content"), title: doc.getText("title"), provider: null,
    authenticated: false, scope: null, denied: [], closes: [], synced: false, status: null,
    unsynced: 0, stateless: [], updatesReceived: 0, typed: "", typing: null,
  };
  doc.on("update", (_u, origin) => { if (origin === c.provider) c.updatesReceived += 1; });
  clients.set(cid, c);
  return c;
}

function summary(c) {
  const p = c.provider;
  const awareness = p && p.awareness ? p.awareness.getStates() : new Map();
  return {
    text: c.text.toString(),
    title: c.title.toString(),
    authenticated: c.authenticated,
    scope: c.scope,
    denied: c.denied,
    closes: c.closes,
    synced: c.kind === "yws" ? !!(p && p.synced) : c.synced,
    unsynced: c.kind === "yws" ? 0 : (p ? p.unsyncedChanges : 0),
    status: c.status,
    awareness: [...awareness.entries()].map(([k, v]) => ({ clientId: k, state: v })),
    stateless: c.stateless,
    clientId: c.doc.clientID,
    updatesReceived: c.updatesReceived,
    typed: c.typed,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ops = {
  socket({ sid, url }) {
    const ws = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket, delay: 100, minDelay: 100, maxDelay: 500 });
    sockets.set(sid, ws);
    return {};
  },
  open({ cid, kind = "hocuspocus", url, sid, doc: name, token, awareness }) {
    const doc = new Y.Doc();
    const c = track(cid, kind, doc);
    if (kind === "yws") {
      const p = new WebsocketProvider(url, name, doc, {
        WebSocketPolyfill: WebSocket, params: token == null ? {} : { token }, maxBackoffTime: 500,
      });
      p.on("status", (e) => { c.status = e.status; });
      p.on("connection-close", (e) => { if (e) c.closes.push({ code: e.code, reason: String(e.reason || "") }); });
      c.provider = p;
    } else {
      const config = {
        name, document: doc, token: token ?? null,
        onAuthenticated: ({ scope }) => { c.authenticated = true; c.scope = scope; },
        onAuthenticationFailed: ({ reason }) => { c.authenticated = false; c.denied.push(reason); },
        onSynced: ({ state }) => { c.synced = state; },
        onClose: ({ event }) => { c.closes.push({ code: event.code, reason: String(event.reason || "") }); },
        onStatus: ({ status }) => { c.status = status; },
        onStateless: ({ payload }) => { c.stateless.push(payload); },
      };
      if (sid) {
        config.websocketProvider = sockets.get(sid);
      } else {
        config.url = url;
        config.WebSocketPolyfill = WebSocket;
        config.delay = 100; config.minDelay = 100; config.maxDelay = 500;
      }
      const p = new HocuspocusProvider(config);
      if (sid) p.attach();
      c.provider = p;
    }
    if (awareness && c.provider.awareness) c.provider.awareness.setLocalState(awareness);
    return {};
  },
  state({ cid }) { return summary(clients.get(cid)); },
  insert({ cid, index, text, field = "text" }) {
    // field "text" is the Markdown (Y.Text "content"), "title" the title (Y.Text "title").
    const t = clients.get(cid)[field];
    const at = index == null ? t.length : Math.min(index, t.length);
    t.insert(at, text);
    return {};
  },
  relativePosition({ cid, index, assoc = 0, field = "text" }) {
    // A Yjs relative position in the text, as a comment's anchor carries it (base64).
    const rel = Y.createRelativePositionFromTypeIndex(clients.get(cid)[field], index, assoc);
    return { position: Buffer.from(Y.encodeRelativePosition(rel)).toString("base64") };
  },
  absolutePosition({ cid, position }) {
    const c = clients.get(cid);
    const rel = Y.decodeRelativePosition(new Uint8Array(Buffer.from(position, "base64")));
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, c.doc);
    return { index: abs ? abs.index : null };
  },
  remove({ cid, index, length, field = "text" }) {
    clients.get(cid)[field].delete(index, length);
    return {};
  },
  burst({ cid, count, prefix }) {
    // `count` separate single-character transactions, like a person typing.
    const c = clients.get(cid);
    for (let i = 0; i < count; i++) c.text.insert(Math.floor(Math.random() * (c.text.length + 1)), prefix[i % prefix.length]);
    return {};
  },
  setText({ cid, text }) {
    const c = clients.get(cid);
    c.doc.transact(() => { c.text.delete(0, c.text.length); c.text.insert(0, text); });
    return {};
  },
  type({ cid, text, interval = 2, field = "text", at = "end" }) {
    // One character of `text` every `interval` ms, each its own update, at the end (or
    // after what this client typed so far, from the start: at = "start").
    const c = clients.get(cid);
    const t = c[field];
    let i = 0;
    c.typing = setInterval(() => {
      if (i >= text.length) { clearInterval(c.typing); c.typing = null; return; }
      t.insert(at === "start" ? i : t.length, text[i]);
      c.typed += text[i];
      i += 1;
    }, interval);
    return {};
  },
  stopTyping({ cid }) {
    const c = clients.get(cid);
    if (c.typing) clearInterval(c.typing);
    c.typing = null;
    return summary(c);
  },
  sendUpdate({ cid, update }) {
    // Send a Yjs update (base64) as the provider sends its own, without applying it to the
    // client's document: how an update that depends on one not yet sent reaches the server.
    const c = clients.get(cid);
    const bytes = new Uint8Array(Buffer.from(update, "base64"));
    if (c.kind === "yws") c.provider._updateHandler(bytes, null);
    else c.provider.documentUpdateHandler(bytes, null);
    return {};
  },
  awareness({ cid, state }) { clients.get(cid).provider.awareness.setLocalState(state); return {}; },
  stateless({ cid, payload }) { clients.get(cid).provider.sendStateless(payload); return {}; },
  forceSync({ cid }) { clients.get(cid).provider.forceSync(); return {}; },
  async wait({ cid, until, value, timeout = 15000 }) {
    const c = clients.get(cid);
    const start = Date.now();
    for (;;) {
      const s = summary(c);
      let ok = false;
      if (until === "synced") ok = s.synced;
      else if (until === "acked") ok = s.synced && s.unsynced === 0;
      else if (until === "text") ok = s.text === value;
      else if (until === "title") ok = s.title === value;
      else if (until === "length") ok = s.text.length >= value;
      else if (until === "typedAcks") ok = s.synced && s.typed.length - s.unsynced >= value;
      else if (until === "authenticated") ok = s.authenticated;
      else if (until === "denied") ok = s.denied.length > 0;
      else if (until === "closed") ok = s.closes.length > 0;
      else if (until === "awareness") ok = s.awareness.length >= value;
      else if (until === "stateless") ok = s.stateless.length >= value;
      else throw new Error(`unknown condition ${until}`);
      if (ok) return s;
      if (Date.now() - start > timeout) {
        const err = new Error(`timed out waiting for ${until}=${JSON.stringify(value)}: ${JSON.stringify(s).slice(0, 600)}`);
        throw err;
      }
      await sleep(10);
    }
  },
  destroy({ cid }) {
    const c = clients.get(cid);
    c.provider.destroy();
    clients.delete(cid);
    return {};
  },
  destroySocket({ sid }) { sockets.get(sid).destroy(); sockets.delete(sid); return {}; },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  try {
    const result = await ops[msg.op](msg);
    out({ id: msg.id, ok: true, ...result });
  } catch (e) {
    out({ id: msg.id, ok: false, error: String(e && e.message ? e.message : e) });
  }
});
rl.on("close", () => process.exit(0));
// Provider warnings go to stderr, never into the answers.
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
