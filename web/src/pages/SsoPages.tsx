// Single sign-on with the server's OpenID Connect providers. The server runs the flow
// (authorization code with PKCE, state and nonce; see the README): the sign-in page only links
// to its login route, and /auth/sso trades the one-time code the server sends back for the
// session's tokens. The provider used is remembered so that signing out also signs out there.
import { anonymous, ok } from "../api/client";
import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";
import type { components } from "../api/schema";
import { useAuth } from "../auth";
import { ErrorText, Spinner, useAction } from "../components/ui";
import { SSO_KEY } from "../lib/sso";
import { AuthCard, nextPath } from "./AuthPages";

export type OidcProvider = components["schemas"]["OidcProviderPublic"];


export function SsoButtons({ providers, next }: { providers: OidcProvider[]; next: string }) {
  if (!providers.length) return null;
  return (
    <div className="stack sso-buttons">
      {providers.map((p) => (
        <a
          key={p.name}
          className="btn"
          data-sso={p.name}
          href={`${p.login_url}?${new URLSearchParams({ next })}`}
        >
          Sign in with {p.label}
        </a>
      ))}
    </div>
  );
}

export function SsoCallbackPage({ providers }: { providers: OidcProvider[] }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const { error, setError, run } = useAction();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // the code works once (React may run effects twice)
    started.current = true;
    const params = new URLSearchParams(window.location.hash.slice(1));
    // The code leaves the address bar (and the history) at once.
    window.history.replaceState(null, "", window.location.pathname);
    const code = params.get("code");
    if (!code) {
      setError("This sign-in link is incomplete. Please sign in again.");
      return;
    }
    void run(async () => {
      const pair = await ok(api.http.POST("/api/auth/oidc/exchange", { body: { code }, ...anonymous }));
      const provider = providers.find((p) => p.name === params.get("provider"));
      if (provider) window.localStorage.setItem(SSO_KEY, provider.logout_url);
      api.acceptPair(pair);
      navigate(nextPath(params), { replace: true });
    });
  }, [api, navigate, providers, run, setError]);

  if (!error) return <Spinner label="Signing in…" />;
  return (
    <AuthCard title="Sign in">
      <ErrorText error={error} />
      <Link to="/signin">Back to sign in</Link>
    </AuthCard>
  );
}
