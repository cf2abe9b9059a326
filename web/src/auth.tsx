import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { Api, ApiError, anonymous, localTokenStore, ok } from "./api/client";
import type { User } from "./api/types";
import { cognitoSession } from "./lib/cognito";
import type { AuthProviders } from "./lib/cognito";
import { ssoSignOut } from "./lib/sso";

export interface AuthState {
  api: Api;
  user: User | null;
  /** true until we know whether the stored session still works */
  loading: boolean;
  /** set when the server could not be reached while checking the session */
  error: string | null;
  reload: () => Promise<void>;
  setUser: (user: User) => void;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

/** Written by the tab that verified the e-mail address, for the others to notice. */
export const VERIFIED_KEY = "mdreader.verified";

export const api = new Api({ store: localTokenStore() });

let providers: Promise<AuthProviders> | null = null;

/**
 * How this server signs people in (asked once): MDReader's own form, or a Cognito user pool's
 * hosted UI, whose session then refreshes and ends the Api's tokens.
 */
export function authProviders(): Promise<AuthProviders> {
  if (!providers) {
    providers = ok(api.http.GET("/api/auth/providers", anonymous))
      .then((p) => {
        api.useExternal(p.provider === "cognito" && p.cognito ? cognitoSession(p.cognito) : null);
        return p;
      })
      .catch((e) => {
        providers = null; // ask again next time
        throw e;
      });
  }
  return providers;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(api.signedIn);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      await authProviders(); // before the first refresh: who refreshes depends on it
    } catch {
      // Unreachable server: the request below says so.
    }
    if (!api.signedIn) {
      setUser(null);
      setLoading(false);
      return;
    }
    try {
      setError(null);
      setUser(await ok(api.http.GET("/api/auth/me")));
    } catch (e) {
      if (e instanceof ApiError && e.status === 0) setError(e.message);
      else setUser(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
    return api.onAuthChange((signedIn) => {
      if (signedIn) void reload();
      else setUser(null);
    });
  }, [reload]);

  // Another tab signed in or out, or verified the e-mail address.
  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (e.key === "mdreader.tokens" && (e.oldValue === null) !== (e.newValue === null)) void reload();
      if (e.key === VERIFIED_KEY) void reload();
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [reload]);

  // Still unverified: look again when the person comes back to this tab (the link may have
  // been opened in another browser).
  const unverified = !!user && !user.email_verified;
  useEffect(() => {
    if (!unverified) return;
    const onFocus = () => void reload();
    window.addEventListener("focus", onFocus);
    return () => window.removeEventListener("focus", onFocus);
  }, [unverified, reload]);

  const signOut = useCallback(async () => {
    await api.logout();
    setUser(null);
    ssoSignOut(); // and at the single sign-on provider the session came from
  }, []);

  const value = useMemo(
    () => ({ api, user, loading, error, reload, setUser, signOut }),
    [user, loading, error, reload, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
