import { describe, expect, it } from "vitest";
import { Api, ApiError, errorMessage, localTokenStore, memoryTokenStore, ok } from "../src/api/client";
import type { Tokens } from "../src/api/client";

/** A fake server with the refresh-token rules of the real one. */
function fakeServer(opts: { accessTtl?: number } = {}) {
  let now = 1_000_000;
  let seq = 0;
  const live = new Map<string, string>(); // refresh token -> session
  const dead = new Set<string>();
  const access = new Map<string, number>(); // access token -> expiry
  const revoked = new Set<string>();
  const calls: string[] = [];
  const issue = (session: string) => {
    const refresh = `r${++seq}`;
    const token = `a${seq}`;
    live.set(refresh, session);
    access.set(token, now + (opts.accessTtl ?? 3600) * 1000);
    return { access_token: token, refresh_token: refresh, token_type: "bearer", expires_in: opts.accessTtl ?? 3600 };
  };
  const json = (status: number, body: unknown) =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const path = new URL(url, "http://x").pathname;
    calls.push(`${init?.method ?? "GET"} ${path}`);
    await new Promise((r) => setTimeout(r, 1));
    if (path === "/api/auth/login") return json(200, issue(`s${seq}`));
    if (path === "/api/auth/refresh") {
      const { refresh_token } = JSON.parse(String(init?.body));
      if (dead.has(refresh_token)) {
        // reuse: the whole session dies
        for (const [r, s] of live) if (s === live.get(refresh_token) || s === "reused") live.delete(r);
        revoked.add("reuse");
        return json(401, { detail: "The refresh token is invalid or expired.", code: "invalid_token" });
      }
      const session = live.get(refresh_token);
      if (!session) return json(401, { detail: "The refresh token is invalid or expired.", code: "invalid_token" });
      live.delete(refresh_token);
      dead.add(refresh_token);
      return json(200, issue(session));
    }
    const auth = new Headers(init?.headers).get("Authorization")?.replace("Bearer ", "");
    const expiry = auth ? access.get(auth) : undefined;
    if (!expiry || expiry <= now) return json(401, { detail: "Not signed in.", code: "invalid_token" });
    if (path === "/api/auth/me") return json(200, { id: "u1", email: "a@b.c", name: "A", email_verified: true });
    if (path === "/api/auth/sessions/s1") return new Response(null, { status: 204 });
    if (path === "/api/workspaces") return json(422, { detail: [{ loc: ["body", "name"], msg: "Value error, the name cannot be blank" }] });
    return json(404, { detail: "Not found.", code: "not_found" });
  };
  return {
    fetch: fetch as typeof globalThis.fetch,
    calls,
    revoked,
    tick: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

describe("Api", () => {
  it("signs in, sends the bearer token and reads JSON", async () => {
    const server = fakeServer();
    const api = new Api({ store: memoryTokenStore(), fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    expect(api.signedIn).toBe(true);
    const me = await ok(api.http.GET("/api/auth/me"));
    expect(me.name).toBe("A");
    expect(await ok(api.http.DELETE("/api/auth/sessions/{session_id}", { params: { path: { session_id: "s1" } } }))).toBeUndefined();
  });

  it("refreshes an access token about to expire before using it", async () => {
    const server = fakeServer({ accessTtl: 3600 });
    const store = memoryTokenStore();
    const api = new Api({ store, fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    server.tick(3600_000 - 30_000); // 30 s left: inside the margin
    await ok(api.http.GET("/api/auth/me"));
    expect(server.calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
    expect(store.load()?.refresh).toBe("r2");
  });

  it("refreshes once and retries when the server refuses the access token", async () => {
    const server = fakeServer();
    const store = memoryTokenStore();
    const api = new Api({ store, fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    // The stored token says it is fresh, but the server no longer takes it.
    store.save({ ...store.load()!, access: "forged" });
    const me = await ok(api.http.GET("/api/auth/me"));
    expect(me.id).toBe("u1");
    expect(server.calls).toEqual(["POST /api/auth/login", "GET /api/auth/me", "POST /api/auth/refresh", "GET /api/auth/me"]);
  });

  it("makes one refresh for many requests at once (never presents a refresh token twice)", async () => {
    const server = fakeServer();
    const api = new Api({ store: memoryTokenStore(), fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    server.tick(3600_000);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => ok(api.http.GET("/api/auth/me"))));
    expect(results.every((r) => r.id === "u1")).toBe(true);
    expect(server.calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
    expect(server.revoked.size).toBe(0);
  });

  it("uses the pair another tab refreshed instead of presenting the old refresh token", async () => {
    const server = fakeServer();
    const shared = new Map<string, string>();
    const storage = {
      getItem: (k: string) => shared.get(k) ?? null,
      setItem: (k: string, v: string) => void shared.set(k, v),
      removeItem: (k: string) => void shared.delete(k),
    } as unknown as Storage;
    // One lock for both "tabs", as navigator.locks would be.
    let chain: Promise<unknown> = Promise.resolve();
    const lock = <T,>(_n: string, fn: () => Promise<T>): Promise<T> => {
      const run = chain.then(fn);
      chain = run.catch(() => undefined);
      return run;
    };
    const tabA = new Api({ store: localTokenStore(storage), fetch: server.fetch, now: server.now, lock });
    const tabB = new Api({ store: localTokenStore(storage), fetch: server.fetch, now: server.now, lock });
    await tabA.login("a@b.c", "pw");
    server.tick(3600_000);
    const [a, b] = await Promise.all([ok(tabA.http.GET("/api/auth/me")), ok(tabB.http.GET("/api/auth/me"))]);
    expect(a.id).toBe("u1");
    expect(b.id).toBe("u1");
    expect(server.calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
    expect(server.revoked.size).toBe(0);
  });

  it("signs out when the refresh token is refused, and tells listeners", async () => {
    const server = fakeServer();
    const store = memoryTokenStore();
    const api = new Api({ store, fetch: server.fetch, now: server.now });
    const events: boolean[] = [];
    api.onAuthChange((s) => events.push(s));
    await api.login("a@b.c", "pw");
    store.save({ ...(store.load() as Tokens), refresh: "unknown", expiresAt: 0 });
    await expect(ok(api.http.GET("/api/auth/me"))).rejects.toMatchObject({ status: 401 });
    expect(api.signedIn).toBe(false);
    expect(events).toEqual([true, false]);
  });

  it("keeps the session when the server cannot be reached", async () => {
    const server = fakeServer();
    let offline = false;
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
      offline ? Promise.reject(new TypeError("Failed to fetch")) : server.fetch(input, init)) as typeof globalThis.fetch;
    const api = new Api({ store: memoryTokenStore(), fetch, now: server.now });
    await api.login("a@b.c", "pw");
    server.tick(3600_000);
    offline = true;
    await expect(ok(api.http.GET("/api/auth/me"))).rejects.toMatchObject({ status: 0, code: "network_error" });
    expect(api.signedIn).toBe(true);
    offline = false;
    expect((await ok(api.http.GET("/api/auth/me"))).id).toBe("u1");
  });

  it("turns error bodies into sentences", async () => {
    const server = fakeServer();
    const api = new Api({ store: memoryTokenStore(), fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    const err = (await ok(api.http.GET("/api/documents/{document_id}", { params: { path: { document_id: "missing" } } })).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe("Not found.");
    expect(err.code).toBe("not_found");
    const invalid = (await ok(api.http.POST("/api/workspaces", { body: { name: "" } })).catch((e: unknown) => e)) as ApiError;
    expect(invalid.message).toBe("name: the name cannot be blank");
    expect(errorMessage(null, 500)).toBe("The request failed (500).");
  });

  it("logs out on the server and forgets the tokens", async () => {
    const server = fakeServer();
    const api = new Api({ store: memoryTokenStore(), fetch: server.fetch, now: server.now });
    await api.login("a@b.c", "pw");
    await api.logout();
    expect(api.signedIn).toBe(false);
    expect(server.calls.at(-1)).toBe("POST /api/auth/logout");
  });
});
