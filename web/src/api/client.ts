// A small typed fetch wrapper around the MDReader REST API.
//
// Tokens: the access token lives ~1 h, the refresh token 7 days and is single-use (presenting a
// dead one again revokes the whole session). Both are kept in localStorage so a reload keeps
// the user signed in; a refresh is single-flight inside a tab and serialized across tabs with
// the Web Locks API, and a tab that waited for the lock first checks whether another tab has
// already refreshed, so one refresh token is never presented twice.
//
// Every call goes through `api.http`, an openapi-fetch client typed by the OpenAPI document
// (schema.ts, `npm run gen:api`): paths, their parameters, bodies and answers are checked by the
// compiler. `ok(...)` turns its answer into the data, or throws an ApiError with the server's
// sentence.
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import type { TokenPair } from "./types";

export interface Tokens {
  access: string;
  refresh: string;
  /** epoch milliseconds when the access token stops working */
  expiresAt: number;
}

export interface TokenStore {
  load(): Tokens | null;
  save(tokens: Tokens | null): void;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: unknown;
  constructor(status: number, message: string, code: string, body: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The human sentence of an error body; FastAPI's validation lists become one line. */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => {
          const item = d as { msg?: string; loc?: unknown[] };
          const field = Array.isArray(item.loc) ? item.loc[item.loc.length - 1] : undefined;
          const msg = (item.msg ?? "is invalid").replace(/^Value error, /, "");
          return field && typeof field === "string" ? `${field}: ${msg}` : msg;
        })
        .join("; ");
    }
  }
  if (status === 0) return "The server cannot be reached.";
  return `The request failed (${status}).`;
}

const STORAGE_KEY = "mdreader.tokens";
/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000;

export function localTokenStore(storage: Storage = window.localStorage): TokenStore {
  return {
    load() {
      try {
        const raw = storage.getItem(STORAGE_KEY);
        if (!raw) return null;
        const t = JSON.parse(raw) as Tokens;
        return t && typeof t.refresh === "string" && typeof t.access === "string" ? t : null;
      } catch {
        return null;
      }
    },
    save(tokens) {
      if (tokens) storage.setItem(STORAGE_KEY, JSON.stringify(tokens));
      else storage.removeItem(STORAGE_KEY);
    },
  };
}

export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return {
    load: () => tokens,
    save: (t) => {
      tokens = t;
    },
  };
}

type Lock = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

function browserLock(): Lock {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks && typeof locks.request === "function") {
    return (name, fn) => locks.request(name, () => fn()) as Promise<never>;
  }
  return (_name, fn) => fn();
}

/**
 * Where tokens come from when an outside identity provider signs people in (a Cognito user
 * pool, lib/cognito.ts): it refreshes them and ends the session instead of /api/auth.
 */
export interface ExternalSession {
  refresh(refreshToken: string): Promise<TokenPair | null>;
  logout(refreshToken: string): Promise<void>;
}

export interface ApiOptions {
  baseUrl?: string;
  store: TokenStore;
  fetch?: typeof fetch;
  lock?: Lock;
  now?: () => number;
}

export class Api {
  private readonly baseUrl: string;
  private readonly store: TokenStore;
  private readonly fetcher: typeof fetch;
  private readonly lock: Lock;
  private readonly now: () => number;
  private inflight: Promise<Tokens | null> | null = null;
  private external: ExternalSession | null = null;
  private listeners = new Set<(signedIn: boolean) => void>();
  /** The API's operations, typed by its OpenAPI document; each request carries a working access
   * token (refreshed once and retried on a 401) unless it is sent `anonymous`. */
  readonly http: ReturnType<typeof createClient<paths>>;
  /** the same without the access token */
  private readonly plain: ReturnType<typeof createClient<paths>>;

  constructor(options: ApiOptions) {
    this.baseUrl = options.baseUrl ?? "";
    this.store = options.store;
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.lock = options.lock ?? browserLock();
    this.now = options.now ?? Date.now;
    const origin = typeof location !== "undefined" ? location.origin : "http://localhost";
    this.http = createClient<paths>({ baseUrl: this.baseUrl || origin, fetch: (request) => this.authorized(request) });
    this.plain = createClient<paths>({ baseUrl: this.baseUrl || origin, fetch: (request) => this.forward(request, null) });
  }

  /** Sign-in through an outside provider from now on (null: MDReader's own). */
  useExternal(session: ExternalSession | null): void {
    this.external = session;
  }

  get usesExternal(): boolean {
    return this.external !== null;
  }

  get signedIn(): boolean {
    return this.store.load() !== null;
  }

  /** Called with false when the session ends (sign-out, revoked or expired refresh token). */
  onAuthChange(listener: (signedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setTokens(tokens: Tokens | null): void {
    const was = this.store.load() !== null;
    this.store.save(tokens);
    if (was !== (tokens !== null)) this.listeners.forEach((l) => l(tokens !== null));
  }

  acceptPair(pair: TokenPair): Tokens {
    const tokens = {
      access: pair.access_token,
      refresh: pair.refresh_token,
      expiresAt: this.now() + pair.expires_in * 1000,
    };
    this.setTokens(tokens);
    return tokens;
  }

  /** A working access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    const tokens = this.store.load();
    if (!tokens) return null;
    if (tokens.expiresAt - this.now() > REFRESH_MARGIN_MS) return tokens.access;
    const fresh = await this.refresh(tokens.access);
    return fresh?.access ?? null;
  }

  /**
   * Trade the refresh token for a new pair. `stale` is the access token the caller found not
   * to work: if the stored one differs and is fresh, another tab refreshed already.
   */
  refresh(stale?: string): Promise<Tokens | null> {
    if (!this.inflight) {
      this.inflight = this.lock("mdreader-refresh", () => this.doRefresh(stale)).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async doRefresh(stale?: string): Promise<Tokens | null> {
    const current = this.store.load();
    if (!current) return null;
    if (current.access !== stale && current.expiresAt - this.now() > REFRESH_MARGIN_MS) {
      return current;
    }
    if (this.external) {
      let pair: TokenPair | null;
      try {
        pair = await this.external.refresh(current.refresh);
      } catch (e) {
        throw new ApiError(0, errorMessage(null, 0), "network_error", e);
      }
      if (pair) return this.acceptPair(pair);
      if (this.store.load()?.refresh === current.refresh) this.setTokens(null);
      return null;
    }
    // Sent as it is: the refresh token is its own credential (no access token, no retry).
    const { data, error, response } = await this.plain.POST("/api/auth/refresh", { body: { refresh_token: current.refresh } });
    if (data) return this.acceptPair(data);
    if (response.status === 401 || response.status === 400 || response.status === 422) {
      // The session is over (expired, revoked, or the token was already used).
      if (this.store.load()?.refresh === current.refresh) this.setTokens(null);
      return null;
    }
    throw new ApiError(response.status, errorMessage(error, response.status), codeOf(error), error);
  }

  /** Send a request the typed client built, with the access token; a 401 refreshes the token
   * once and tries again, and a second one ends the session. */
  private async authorized(request: Request): Promise<Response> {
    const anonymous = request.headers.get(ANONYMOUS) !== null;
    const sent = await body(request);
    const attempt = (token: string | null) => this.forward(request, token, sent);
    const token = anonymous ? null : await this.accessToken();
    let response = await attempt(token);
    if (response.status === 401 && token) {
      // The access token was refused (expired early, key rotated): refresh once and retry.
      const fresh = await this.refresh(token);
      if (fresh) response = await attempt(fresh.access);
      if (response.status === 401) this.setTokens(null);
    }
    return response;
  }

  /** Send `request` with `token` (its body read once, for a retry); a network failure is an
   * ApiError with status 0. */
  private async forward(request: Request, token: string | null, sent?: BodyInit | null): Promise<Response> {
    const headers = new Headers(request.headers);
    headers.delete(ANONYMOUS);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    try {
      return await this.fetcher(request.url, {
        method: request.method,
        headers,
        body: sent === undefined ? await body(request) : sent,
        signal: request.signal,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, errorMessage(null, 0), "network_error", e);
    }
  }

  async login(email: string, password: string, totpCode?: string): Promise<void> {
    const pair = await ok(
      this.http.POST("/api/auth/login", {
        body: { email, password, ...(totpCode ? { totp_code: totpCode } : {}) },
        ...anonymous,
      }),
    );
    this.acceptPair(pair);
  }

  async logout(): Promise<void> {
    const tokens = this.store.load();
    this.setTokens(null);
    if (tokens && this.external) {
      await this.external.logout(tokens.refresh);
      return;
    }
    if (tokens) {
      try {
        await ok(this.http.POST("/api/auth/logout", { body: { refresh_token: tokens.refresh }, ...anonymous }));
      } catch {
        // Signed out locally either way; the session expires on its own.
      }
    }
  }

  /** Forget the tokens without telling the server (after a password reset revoked them). */
  forget(): void {
    this.setTokens(null);
  }
}

/** Marks a request that goes without the access token (sign-in, sign-up, password reset):
 * `api.http.POST(path, { body, ...anonymous })`. */
const ANONYMOUS = "X-MDReader-Anonymous";
export const anonymous = { headers: { [ANONYMOUS]: "1" } } as const;

/** The data of a typed call's answer; an ApiError with the server's sentence when it failed. */
export async function ok<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) throw new ApiError(response.status, errorMessage(error, response.status), codeOf(error), error);
  return data as T;
}

/** A request's body, read once: JSON as text, anything else (a form) as bytes. */
async function body(request: Request): Promise<BodyInit | null> {
  if (!request.body) return null;
  return request.headers.get("content-type")?.includes("json") ? request.text() : request.arrayBuffer();
}

function codeOf(body: unknown): string {
  if (body && typeof body === "object" && "code" in body) {
    const code = (body as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return "error";
}
