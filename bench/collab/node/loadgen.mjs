// One load generator for both servers: N Hocuspocus providers per document, W of them typing
// at R updates/s (or, closed loop, each sending its next update as soon as the last one is
// acknowledged); every insert carries its send time, so receivers measure end-to-end delay,
// and writers measure the time to the server's acknowledgement (SyncStatus). Several of
// these processes share one run (bench/collab/__main__.py splits the clients): times are
// wall-clock milliseconds so that they compare across processes, and the raw latencies are
// printed for the caller to merge.
import WebSocket from "ws";
import * as Y from "yjs";
import { HocuspocusProvider } from "@hocuspocus/provider";

const cfg = JSON.parse(process.argv[2]);
const { url, token, docs, clientsPerDoc, writersPerDoc, rate, warmupMs = 1000, durationMs = 5000 } = cfg;
const closed = !!cfg.closed;
const firstClient = cfg.firstClient ?? 0; // this process's share of each document's clients
const lastClient = cfg.lastClient ?? clientsPerDoc;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = /§(\d+\.\d+)§/g;

let measuring = false;
let delivered = 0, sent = 0, acked = 0;
const delivery = [], ackLat = [];
const clients = [];

function makeClient(name, writer) {
  const doc = new Y.Doc();
  const text = doc.getText("content");
  const c = { doc, text, writer, pending: [], last: 0, synced: false, provider: null };
  const provider = new HocuspocusProvider({
    url, name, token, document: doc, WebSocketPolyfill: WebSocket,
    onSynced: () => { c.synced = true; },
    onUnsyncedChanges: ({ number }) => {
      if (number < c.last) {
        for (let i = 0; i < c.last - number; i++) {
          const t = c.pending.shift();
          if (t !== undefined && measuring && Number.isFinite(t)) { acked += 1; ackLat.push(now() - t); }
        }
      }
      c.last = number;
      if (closed && number === 0 && c.running) setImmediate(() => type(c));
    },
  });
  c.provider = provider;
  text.observe((event) => {
    if (event.transaction.local || !measuring) return;
    const t = now();
    for (const op of event.changes.delta) {
      if (typeof op.insert !== "string") continue;
      for (const m of op.insert.matchAll(MARK)) { delivered += 1; delivery.push(t - Number(m[1])); }
    }
  });
  return c;
}

const started = now();
for (const name of docs) {
  for (let i = firstClient; i < lastClient; i++) clients.push(makeClient(name, i < writersPerDoc));
  if (clients.length % 50 === 0) await waitSynced(60000);
}
await waitSynced(120000);
const connectSeconds = (now() - started) / 1000;
if (cfg.coordinated) {
  // Every generator of the run connects first; the caller says when all start typing.
  process.stdout.write("SYNCED\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
}

async function waitSynced(limit) {
  const t0 = now();
  while (clients.some((c) => !c.synced)) {
    if (now() - t0 > limit) throw new Error(`only ${clients.filter((c) => c.synced).length}/${clients.length} synced`);
    await sleep(20);
  }
}

function type(c) {
  if (!c.running) return;
  const t = now();
  c.text.insert(c.text.length, `§${t.toFixed(3)}§`);
  c.pending.push(t);
  if (measuring) sent += 1;
}

const writers = clients.filter((c) => c.writer);
for (const c of writers) c.running = true;
const timers = writers.map((c, i) => setTimeout(() => {
  if (closed) type(c);
  else c.timer = setInterval(() => type(c), 1000 / rate);
}, (i * 1000) / rate / writers.length));

await sleep(warmupMs);
// Count only what is sent, acknowledged and delivered inside the window.
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
for (const c of clients) c.provider.destroy();
// Exit once the whole line is written: the raw latencies run past a pipe's buffer.
process.stdout.write(JSON.stringify(result) + "\n", () => setTimeout(() => process.exit(0), 200));
