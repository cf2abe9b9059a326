// The Cognito hosted-UI client (lib/cognito.ts): PKCE as RFC 7636 defines it, the requests
// the pool's OAuth endpoints expect, and the Api client refreshing and signing out through
// the pool. (moto, which the server tests use for Cognito, has no hosted UI or OAuth
// endpoints, so they are a fake here, answering as the Cognito docs describe.)
import { describe, expect, it } from "vitest";
import { Api, memoryTokenStore, ok } from "../src/api/client";
import {
  authorizeUrl,
  beginSignIn,
  codeChallenge,
  cognitoSession,
  completeSignIn,
  logoutUrl,
} from "../src/lib/cognito";
import type { CognitoConfig } from "../src/lib/cognito";

const config: CognitoConfig = {
  domain: "https://mdreader-test.auth.eu-west-1.amazoncognito.com",
  client_id: "client123",
  identity_providers: ["Google", "GitHub"],
  scopes: ["openid", "email", "profile", "aws.cognito.signin.user.admin"],
};
const origin = "https://docs.example.com";

function memoryStorage(): Storage {
  const data = new Map<string, string>();
  return {
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    getItem: (k) => data.get(k) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => void data.delete(k),
    setItem: (k, v) => void data.set(k, v),
  };
}

/** The pool's /oauth2/token and /oauth2/revoke, as documented. */
function fakePool() {
  const requests: { url: string; form: URLSearchParams }[] = [];
  const codes = new Map<string, string>(); // code -> challenge
  const refreshTokens = new Set<string>(["r-live"]);
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const form = new URLSearchParams(String(init?.body ?? ""));
    requests.push({ url, form });
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url.endsWith("/oauth2/revoke")) {
      refreshTokens.delete(form.get("token") ?? "");
      return new Response(null, { status: 200 });
    }
    if (form.get("grant_type") === "authorization_code") {
      const challenge = codes.get(form.get("code") ?? "");
      if (!challenge || (await codeChallenge(form.get("code_verifier") ?? "")) !== challenge) {
        return json(400, { error: "invalid_grant" });
      }
      refreshTokens.add("r-new");
      return json(200, { access_token: "a1", id_token: "i1", refresh_token: "r-new", expires_in: 3600, token_type: "Bearer" });
    }
    if (form.get("grant_type") === "refresh_token") {
      if (!refreshTokens.has(form.get("refresh_token") ?? "")) return json(400, { error: "invalid_grant" });
      return json(200, { access_token: "a2", id_token: "i2", expires_in: 3600, token_type: "Bearer" });
    }
    return json(400, { error: "unsupported_grant_type" });
  };
  return { fetch: fetch as typeof globalThis.fetch, requests, codes, refreshTokens };
}

describe("PKCE", () => {
  it("derives the S256 challenge of RFC 7636's example", async () => {
    expect(await codeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("sends the browser to the hosted UI with the code flow, the challenge and the provider", () => {
    const url = new URL(
      authorizeUrl(config, { redirectUri: `${origin}/auth/callback`, state: "s1", challenge: "c1", identityProvider: "Google" }),
    );
    expect(url.origin + url.pathname).toBe(`${config.domain}/oauth2/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "client123",
      redirect_uri: "https://docs.example.com/auth/callback",
      scope: "openid email profile aws.cognito.signin.user.admin",
      state: "s1",
      code_challenge: "c1",
      code_challenge_method: "S256",
      identity_provider: "Google",
    });
    expect(logoutUrl(config, origin)).toBe(
      `${config.domain}/logout?client_id=client123&logout_uri=https%3A%2F%2Fdocs.example.com%2Fsignin`,
    );
  });
});

describe("sign-in round trip", () => {
  it("trades the code and the verifier for tokens, and refuses a foreign state", async () => {
    const pool = fakePool();
    const storage = memoryStorage();
    let went = "";
    await beginSignIn(config, "/w/1", undefined, { origin, assign: (u) => (went = u) }, storage);
    const sent = new URL(went).searchParams;
    pool.codes.set("code-1", sent.get("code_challenge")!);
    // The hosted UI redirects back with the code and the same state.
    const { pair, next } = await completeSignIn(config, `?code=code-1&state=${sent.get("state")}`, origin, pool.fetch, storage);
    expect(pair).toEqual({ access_token: "a1", refresh_token: "r-new", token_type: "bearer", expires_in: 3600 });
    expect(next).toBe("/w/1");
    const form = pool.requests[0].form;
    expect(form.get("redirect_uri")).toBe(`${origin}/auth/callback`);
    expect(form.get("client_id")).toBe("client123");
    // A callback this browser did not start (or a replayed one) is refused.
    await expect(completeSignIn(config, "?code=code-1&state=other", origin, pool.fetch, storage)).rejects.toThrow(
      /did not start here/,
    );
    await expect(completeSignIn(config, "?error=access_denied&error_description=Nope", origin, pool.fetch, storage)).rejects.toThrow(
      "Nope",
    );
  });
});

describe("the Api client with the pool's session", () => {
  it("refreshes at the pool keeping the refresh token, and signs out by revoking it", async () => {
    const pool = fakePool();
    let now = 0;
    const store = memoryTokenStore({ access: "a0", refresh: "r-live", expiresAt: 30_000 });
    const apiCalls: string[] = [];
    const api = new Api({
      store,
      now: () => now,
      fetch: async (input, init) => {
        apiCalls.push(`${init?.method} ${new URL(String(input)).pathname} ${new Headers(init?.headers).get("Authorization")}`);
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      },
    });
    api.useExternal({ refresh: cognitoSession(config, pool.fetch).refresh, logout: async () => {} });
    await ok(api.http.GET("/api/auth/me")); // the access token is about to expire: refreshed first
    expect(apiCalls).toEqual(["GET /api/auth/me Bearer a2"]);
    expect(store.load()).toMatchObject({ access: "a2", refresh: "r-live" });
    expect(pool.requests.at(-1)!.form.get("grant_type")).toBe("refresh_token");

    let left = "";
    const session = cognitoSession(config, pool.fetch);
    api.useExternal({ refresh: session.refresh, logout: (r) => session.logout(r, { origin, assign: (u) => (left = u) }) });
    await api.logout();
    expect(store.load()).toBeNull();
    expect(pool.refreshTokens.has("r-live")).toBe(false); // revoked at the pool
    expect(left).toBe(logoutUrl(config, origin));
    // A revoked refresh token no longer refreshes: the session is over.
    expect(await session.refresh("r-live")).toBeNull();
    now += 1;
  });
});
