// Signing in through an Amazon Cognito user pool's hosted UI: the authorization code flow
// with PKCE (RFC 7636) for a public client (no secret in the browser). The hosted UI does the
// password, the second factor (TOTP) and the social providers (Google, GitHub); the app gets
// the pool's tokens back at /auth/callback, refreshes them at the token endpoint, and signs
// out by revoking the refresh token and sending the browser to the pool's /logout.
//
// The API accepts the pool's access token as a bearer token (REST and the WebSocket alike).
import type { components } from "../api/schema";
import type { TokenPair } from "../api/types";

export type CognitoConfig = components["schemas"]["CognitoPublic"];
export type AuthProviders = components["schemas"]["AuthProvidersPublic"];

const PENDING_KEY = "mdreader.cognito.pending";

interface Pending {
  state: string;
  verifier: string;
  next: string;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A random PKCE code verifier (43 characters of the unreserved alphabet). */
export function codeVerifier(random: (n: number) => Uint8Array = randomBytes): string {
  return base64url(random(32));
}

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return bytes;
}

/** S256: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri(origin: string): string {
  return `${origin}/auth/callback`;
}

export function authorizeUrl(
  config: CognitoConfig,
  options: { redirectUri: string; state: string; challenge: string; identityProvider?: string },
): string {
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: options.redirectUri,
    scope: config.scopes.join(" "),
    state: options.state,
    code_challenge: options.challenge,
    code_challenge_method: "S256",
  });
  // Straight to Google or GitHub instead of the pool's own sign-in page.
  if (options.identityProvider) params.set("identity_provider", options.identityProvider);
  return `${config.domain}/oauth2/authorize?${params}`;
}

export function logoutUrl(config: CognitoConfig, origin: string): string {
  const params = new URLSearchParams({ client_id: config.client_id, logout_uri: `${origin}/signin` });
  return `${config.domain}/logout?${params}`;
}

/** Send the browser to the hosted UI; `next` is where to land after signing in. */
export async function beginSignIn(
  config: CognitoConfig,
  next: string,
  identityProvider?: string,
  where: { origin: string; assign: (url: string) => void } = window.location,
  storage: Storage = window.sessionStorage,
): Promise<void> {
  const verifier = codeVerifier();
  const state = codeVerifier();
  const pending: Pending = { state, verifier, next };
  storage.setItem(PENDING_KEY, JSON.stringify(pending));
  const challenge = await codeChallenge(verifier);
  where.assign(authorizeUrl(config, { redirectUri: redirectUri(where.origin), state, challenge, identityProvider }));
}

interface CognitoTokens {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
}

async function tokenRequest(
  config: CognitoConfig,
  body: Record<string, string>,
  fetcher: typeof fetch,
): Promise<CognitoTokens> {
  const response = await fetcher(`${config.domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.client_id, ...body }).toString(),
  });
  if (!response.ok) {
    let detail = `The sign-in service answered ${response.status}.`;
    try {
      const error = (await response.json()) as { error?: string; error_description?: string };
      if (error.error === "invalid_grant") detail = "This sign-in link has expired. Please sign in again.";
      else if (error.error_description || error.error) detail = error.error_description ?? error.error ?? detail;
    } catch {
      // keep the status sentence
    }
    throw new CognitoError(response.status, detail);
  }
  return (await response.json()) as CognitoTokens;
}

export class CognitoError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "CognitoError";
    this.status = status;
  }
}

/**
 * Back from the hosted UI (`search` = the callback's query string): check the state, trade
 * the code and the verifier for tokens. Returns the pair and where to go next.
 */
export async function completeSignIn(
  config: CognitoConfig,
  search: string,
  origin: string,
  fetcher: typeof fetch = (i, init) => fetch(i, init),
  storage: Storage = window.sessionStorage,
): Promise<{ pair: TokenPair; next: string }> {
  const params = new URLSearchParams(search);
  const raw = storage.getItem(PENDING_KEY);
  storage.removeItem(PENDING_KEY);
  if (params.get("error")) {
    throw new CognitoError(400, params.get("error_description") ?? "Signing in was cancelled.");
  }
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  const code = params.get("code");
  if (!pending || !code || params.get("state") !== pending.state) {
    throw new CognitoError(400, "This sign-in did not start here. Please sign in again.");
  }
  const tokens = await tokenRequest(
    config,
    { grant_type: "authorization_code", code, redirect_uri: redirectUri(origin), code_verifier: pending.verifier },
    fetcher,
  );
  if (!tokens.refresh_token) throw new CognitoError(500, "The sign-in service sent no refresh token.");
  return { pair: toPair(tokens, tokens.refresh_token), next: pending.next };
}

function toPair(tokens: CognitoTokens, refresh: string): TokenPair {
  return {
    access_token: tokens.access_token,
    refresh_token: refresh,
    token_type: "bearer",
    expires_in: tokens.expires_in,
  };
}

/** The session behind the Api client when the pool signs people in. */
export function cognitoSession(config: CognitoConfig, fetcher: typeof fetch = (i, init) => fetch(i, init)) {
  return {
    /** A new access token for the refresh token (which Cognito keeps the same); null when it is dead. */
    async refresh(refreshToken: string): Promise<TokenPair | null> {
      try {
        const tokens = await tokenRequest(
          config,
          { grant_type: "refresh_token", refresh_token: refreshToken },
          fetcher,
        );
        return toPair(tokens, tokens.refresh_token ?? refreshToken);
      } catch (e) {
        if (e instanceof CognitoError && (e.status === 400 || e.status === 401)) return null;
        throw e;
      }
    },
    /** Revoke the refresh token (and the access tokens it issued), then the hosted UI's session. */
    async logout(refreshToken: string, where: { origin: string; assign: (url: string) => void } = window.location) {
      try {
        await fetcher(`${config.domain}/oauth2/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: refreshToken, client_id: config.client_id }).toString(),
        });
      } catch {
        // Signed out here either way; the hosted UI's logout below ends its session too.
      }
      where.assign(logoutUrl(config, where.origin));
    },
  };
}

export type CognitoSession = ReturnType<typeof cognitoSession>;
