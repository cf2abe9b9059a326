// A small typed fetch wrapper around the MDReader REST API.
//
// Tokens: the access token lives ~1 h, the refresh token 7 days and is single-use (presenting a
// dead one again revokes the whole session). Both are kept in localStorage so a reload keeps
// the user signed in; a refresh is single-flight inside a tab and serialized across tabs with
// the Web Locks API, and a tab that waited for the lock first checks whether another tab has
// already refreshed, so one refresh token is never presented twice.
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

export interface RequestOptions {
  body?: unknown;
  form?: FormData;
  query?: Record<string, string | number | undefined>;
  /** send no Authorization header (sign-in, sign-up, password reset) */
  anonymous?: boolean;
  signal?: AbortSignal;
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

  constructor(options: ApiOptions) {
    this.baseUrl = options.baseUrl ?? "";
    this.store = options.store;
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.lock = options.lock ?? browserLock();
    this.now = options.now ?? Date.now;
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
    let response: Response;
    try {
      response = await this.fetcher(`${this.baseUrl}/api/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh }),
      });
    } catch (e) {
      throw new ApiError(0, errorMessage(null, 0), "network_error", e);
    }
    if (response.ok) {
      return this.acceptPair((await response.json()) as TokenPair);
    }
    if (response.status === 401 || response.status === 400 || response.status === 422) {
      // The session is over (expired, revoked, or the token was already used).
      if (this.store.load()?.refresh === current.refresh) this.setTokens(null);
      return null;
    }
    const body = await readBody(response);
    throw new ApiError(response.status, errorMessage(body, response.status), codeOf(body), body);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("application/json")) return (await response.json()) as T;
    return (await response.text()) as T;
  }

  /** The raw response (for blobs); errors are thrown as ApiError like `request`. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    let url = `${this.baseUrl}${path}`;
    if (options.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    const attempt = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = {};
      let body: BodyInit | undefined;
      if (options.form) body = options.form;
      else if (options.body !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(options.body);
      }
      if (token) headers.Authorization = `Bearer ${token}`;
      try {
        return await this.fetcher(url, { method, headers, body, signal: options.signal });
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") throw e;
        throw new ApiError(0, errorMessage(null, 0), "network_error", e);
      }
    };
    const token = options.anonymous ? null : await this.accessToken();
    let response = await attempt(token);
    if (response.status === 401 && token) {
      // The access token was refused (expired early, key rotated): refresh once and retry.
      const fresh = await this.refresh(token);
      if (fresh) response = await attempt(fresh.access);
    }
    if (!response.ok) {
      const body = await readBody(response);
      if (response.status === 401 && token && !options.anonymous) this.setTokens(null);
      throw new ApiError(response.status, errorMessage(body, response.status), codeOf(body), body);
    }
    return response;
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, options);
  }
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("POST", path, { ...options, body });
  }
  patch<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("PATCH", path, { ...options, body });
  }
  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("PUT", path, { ...options, body });
  }
  delete<T = void>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("DELETE", path, { ...options, body });
  }

  async login(email: string, password: string, totpCode?: string): Promise<void> {
    const pair = await this.post<TokenPair>(
      "/api/auth/login",
      { email, password, ...(totpCode ? { totp_code: totpCode } : {}) },
      { anonymous: true },
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
        await this.post("/api/auth/logout", { refresh_token: tokens.refresh }, { anonymous: true });
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

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text || response.statusText };
  }
}

function codeOf(body: unknown): string {
  if (body && typeof body === "object" && "code" in body) {
    const code = (body as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return "error";
}
