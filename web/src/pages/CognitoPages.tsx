// Signing in through a Cognito user pool (MDREADER_AUTH_PROVIDER=cognito with a hosted UI):
// the sign-in page offers the pool's hosted UI and its social providers, and /auth/callback
// finishes the authorization-code + PKCE exchange. Sign-up, password reset and the second
// factor all happen in the hosted UI.
import { useEffect, useRef } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { useAuth } from "../auth";
import { beginSignIn, completeSignIn } from "../lib/cognito";
import type { CognitoConfig } from "../lib/cognito";
import { Button, ErrorText, Spinner, useAction } from "../components/ui";
import { AuthCard, nextPath } from "./AuthPages";

export function CognitoSignInPage({ config }: { config: CognitoConfig }) {
  const { user } = useAuth();
  const [params] = useSearchParams();
  const { busy, error, run } = useAction();
  if (user) return <Navigate to={nextPath(params)} replace />;

  // beginSignIn leaves the page for the hosted UI: the buttons stay disabled until it has.
  const go = (provider?: string) => run(() => beginSignIn(config, nextPath(params), provider).then(() => new Promise<never>(() => {})));

  return (
    <AuthCard title="Sign in">
      <div className="stack">
        <p className="muted">
          You sign in (or create an account, or reset your password) on this organisation's sign-in page,
          then come back here.
        </p>
        <Button variant="primary" onClick={() => void go()} disabled={busy}>
          Continue to sign in
        </Button>
        {config.identity_providers.map((provider) => (
          <Button key={provider} variant="default" onClick={() => void go(provider)} disabled={busy}>
            Sign in with {provider}
          </Button>
        ))}
        <ErrorText error={error} />
      </div>
    </AuthCard>
  );
}

export function CognitoCallbackPage({ config }: { config: CognitoConfig }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const { error, run } = useAction();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // the code works once (React may run effects twice)
    started.current = true;
    void run(async () => {
      const { pair, next } = await completeSignIn(config, window.location.search, window.location.origin);
      api.acceptPair(pair);
      navigate(next, { replace: true });
    });
  }, [api, config, navigate, run]);

  if (!error) return <Spinner />;
  return (
    <AuthCard title="Sign-in failed" footer={<Link to="/signin">Sign in again</Link>}>
      <ErrorText error={error} />
    </AuthCard>
  );
}
