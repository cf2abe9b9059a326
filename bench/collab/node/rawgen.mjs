// The raw load generator: the Hocuspocus protocol spoken over plain `ws` sockets, without a
// provider or a Y.Doc per client, so that one process drives many more clients than with
// @hocuspocus/provider before it saturates (loadgen.mjs is the one with stock providers).
//
// Every client authenticates, sends SyncStep1, answers the server's SyncStep1 and sends one
// awareness state, as a provider does. Only writers keep a Y.Doc, to make real Yjs updates:
// each appends `§<send time>~<writer>§` to the text, at R updates/s or, closed loop, as soon as the
// last one is acknowledged (SyncStatus). Receivers never decode Yjs: the markers are plain
// UTF-8 inside the updates the server relays, so a receiver finds them in the frame's bytes
// (merged updates keep them whole). Same configuration, coordination (SYNCED / GO on stdin)
// and result line as loadgen.mjs.
import WebSocket from "ws";
import * as Y from "yjs";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";

const cfg = JSON.parse(process.argv[2]);
const { url, token, docs, clientsPerDoc, writersPerDoc, rate, warmupMs = 1000, durationMs = 5000 } = cfg;
const closed = !!cfg.closed;
const firstClient = cfg.firstClient ?? 0;
const lastClient = cfg.lastClient ?? clientsPerDoc;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = /\xc2\xa7(\d+\.\d+)~(\d+)\xc2\xa7/g; // "§time~writer§" as UTF-8, read as latin1
const SYNC = 0, AWARENESS = 1, AUTH = 2, SYNC_STATUS = 8;
const STEP1 = 0, STEP2 = 1, UPDATE = 2;
const AUTHENTICATED = 2, PERMISSION_DENIED = 1;

let measuring = false;
let delivered = 0, sent = 0, acked = 0;
const delivery = [], ackLat = [];
const clients = [];

function frame(name, write) {
  const e = encoding.createEncoder();
  encoding.writeVarString(e, name);
  write(e);
  return encoding.toUint8Array(e);
}

function count(bytes, self) {
  if (!measuring) return;
  const t = now();
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).latin1Slice();
  for (const m of text.matchAll(MARK)) {
    if (m[2] === self) continue; // a server that echoes the writer's own update
    delivered += 1;
    delivery.push(t - Number(m[1]));
  }
}

function makeClient(name, index, writer) {
  const c = { name, writer, synced: false, pending: [], running: false, doc: null, text: null };
  c.id = Math.floor(Math.random() * 2 ** 31); // the awareness client id of a receiver
  c.mark = String(c.id); // what this client's markers end with
  if (writer) {
    c.doc = new Y.Doc();
    c.text = c.doc.getText("content");
    c.doc.on("update", (update, origin) => {
      if (origin === "remote") return;
      c.ws.send(frame(name, (e) => {
        encoding.writeVarUint(e, SYNC);
        encoding.writeVarUint(e, UPDATE);
        encoding.writeVarUint8Array(e, update);
      }));
    });
  }
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.binaryType = "nodebuffer";
  c.ws = ws;
  ws.on("open", () => {
    ws.send(frame(name, (e) => {
      encoding.writeVarUint(e, AUTH);
      encoding.writeVarUint(e, 0); // token
      encoding.writeVarString(e, token);
      encoding.writeVarString(e, "rawgen");
    }));
  });
  ws.on("message", (data) => {
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (data.length === 1) return; // Ping / Pong without an address
    decoding.readVarString(d);
    const type = decoding.readVarUint(d);
    if (type === SYNC) {
      const step = decoding.readVarUint(d);
      const payload = decoding.readVarUint8Array(d);
      if (step === STEP1) {
        const diff = c.doc ? Y.encodeStateAsUpdate(c.doc, payload) : Y.encodeStateAsUpdate(new Y.Doc());
        ws.send(frame(name, (e) => {
          encoding.writeVarUint(e, 4); // SyncReply: no SyncStep1 back
          encoding.writeVarUint(e, STEP2);
          encoding.writeVarUint8Array(e, diff);
        }));
      } else if (step === STEP2 && !c.synced) {
        if (c.doc) Y.applyUpdate(c.doc, payload, "remote");
        c.synced = true;
      } else {
        count(payload, c.mark);
      }
    } else if (type === SYNC_STATUS) {
      if (decoding.readVarInt(d) !== 1) return;
      const t = c.pending.shift();
      if (t !== undefined && measuring && Number.isFinite(t)) { acked += 1; ackLat.push(now() - t); }
      if (closed && c.running && c.pending.length === 0) setImmediate(() => type_(c));
    } else if (type === AUTH) {
      const kind = decoding.readVarUint(d);
      if (kind === PERMISSION_DENIED) { console.error(`denied on ${name}`); process.exit(2); }
      if (kind !== AUTHENTICATED) return;
      const doc = c.doc ?? new Y.Doc();
      ws.send(frame(name, (e) => {
        encoding.writeVarUint(e, SYNC);
        encoding.writeVarUint(e, STEP1);
        encoding.writeVarUint8Array(e, Y.encodeStateVector(doc));
      }));
      const state = new TextEncoder().encode(JSON.stringify({ user: { name: `bench ${index}` } }));
      ws.send(frame(name, (e) => {
        encoding.writeVarUint(e, AWARENESS);
        const u = encoding.createEncoder();
        encoding.writeVarUint(u, 1);
        encoding.writeVarUint(u, c.doc ? c.doc.clientID : c.id);
        encoding.writeVarUint(u, 1);
        encoding.writeVarUint8Array(u, state);
        encoding.writeVarUint8Array(e, encoding.toUint8Array(u));
      }));
    }
  });
  ws.on("error", (err) => { console.error(`socket error on ${name}: ${err.message}`); process.exit(2); });
  return c;
}

async function waitSynced(limit) {
  const t0 = now();
  while (clients.some((c) => !c.synced)) {
    if (now() - t0 > limit) throw new Error(`only ${clients.filter((c) => c.synced).length}/${clients.length} synced`);
    await sleep(20);
  }
}

const started = now();
for (const name of docs) {
  for (let i = firstClient; i < lastClient; i++) clients.push(makeClient(name, i, i < writersPerDoc));
  if (clients.length % 200 === 0) await waitSynced(60000);
}
await waitSynced(120000);
const connectSeconds = (now() - started) / 1000;
if (cfg.coordinated) {
  process.stdout.write("SYNCED\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
}

function type_(c) {
  if (!c.running) return;
  const t = now();
  c.pending.push(t);
  if (measuring) sent += 1;
  c.text.insert(c.text.length, `§${t.toFixed(3)}~${c.mark}§`);
}

const writers = clients.filter((c) => c.writer);
for (const c of writers) c.running = true;
const timers = writers.map((c, i) => setTimeout(() => {
  if (closed) type_(c);
  else c.timer = setInterval(() => type_(c), 1000 / rate);
}, (i * 1000) / rate / writers.length));

await sleep(warmupMs);
for (const c of writers) c.pending = c.pending.map(() => -Infinity);
measuring = true;
const windowStart = now();
await sleep(durationMs);
measuring = false;
const seconds = (now() - windowStart) / 1000;
timers.forEach(clearTimeout);
for (const c of writers) { c.running = false; clearInterval(c.timer); }

function pct(values, p) {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!finite.length) return null;
  return Math.round(finite[Math.min(finite.length - 1, Math.floor((p / 100) * finite.length))] * 100) / 100;
}

const result = {
  clients: clients.length, docs: docs.length, connect_seconds: Math.round(connectSeconds * 100) / 100,
  sent, acked, delivered, seconds,
  delivered_per_s: Math.round(delivered / seconds), acked_per_s: Math.round(acked / seconds),
  delivery_p50_ms: pct(delivery, 50), delivery_p99_ms: pct(delivery, 99),
  ack_p50_ms: pct(ackLat, 50), ack_p99_ms: pct(ackLat, 99),
  raw: cfg.raw ? { delivery: delivery.filter(Number.isFinite), ack: ackLat.filter(Number.isFinite) } : undefined,
};
for (const c of clients) c.ws.terminate();
process.stdout.write(JSON.stringify(result) + "\n", () => setTimeout(() => process.exit(0), 200));
