// Sign-up, sign-in (with the authenticator code step), e-mail verification, password reset,
// and accepting an invitation: the pages someone reaches before (or from) an e-mail.
import { useEffect, useRef, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from "react-router";
import { ApiError, anonymous, ok } from "../api/client";
import { VERIFIED_KEY, authProviders, useAuth } from "../auth";
import { Field, SubmitButton } from "../components/forms";
import { Button, ErrorText, Notice, Spinner, useAction, useLoad } from "../components/ui";
import type { AuthProviders } from "../lib/cognito";
import { SsoButtons } from "./SsoPages";

export function AuthCard({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="brand brand-large">
          <span className="brand-mark">M↓</span> MDReader
        </div>
        <h1>{title}</h1>
        {children}
        {footer ? <div className="auth-footer">{footer}</div> : null}
      </div>
    </main>
  );
}

/** Where to go after signing in: the `next` the user was sent from, if it is ours. */
export function nextPath(params: URLSearchParams): string {
  const next = params.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function SignInPage({ providers }: { providers?: AuthProviders }) {
  const { api, user } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needCode, setNeedCode] = useState(false);
  const { busy, error, submit } = useAction();
  const codeRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (needCode) codeRef.current?.focus();
  }, [needCode]);

  if (user) return <Navigate to={nextPath(params)} replace />;
  const passwordForm = providers?.password ?? true;
  const ssoError = params.get("sso_error");

  const signIn = submit(async () => {
    try {
      await api.login(email, password, needCode ? code : undefined);
      navigate(nextPath(params), { replace: true });
    } catch (err) {
      // Not a failure: the account asks for its second factor.
      if (err instanceof ApiError && err.code === "mfa_required") setNeedCode(true);
      else throw err;
    }
  });

  return (
    <AuthCard
      title={needCode ? "Two-factor sign-in" : "Sign in"}
      footer={
        passwordForm ? (
          <>
            <Link to={`/signup${params.toString() ? `?${params}` : ""}`}>Create an account</Link>
            <Link to="/forgot-password">Forgot your password?</Link>
          </>
        ) : undefined
      }
    >
      {needCode ? null : <SsoButtons providers={providers?.oidc ?? []} next={nextPath(params)} />}
      {ssoError ? <ErrorText error={ssoError} /> : null}
      {passwordForm ? <form onSubmit={signIn} className="stack">
        {needCode ? (
          <>
            <p className="muted">Enter the 6-digit code from your authenticator app.</p>
            <Field
              label="Authenticator code"
              name="totp_code"
              ref={codeRef}
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]*"
              value={code}
              onChange={(e) => setCode(e.target.value)}
              required
            />
          </>
        ) : (
          <>
            <Field label="E-mail" name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
            <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          </>
        )}
        <ErrorText error={error} />
        <SubmitButton variant="primary" busy={busy}>
          {needCode ? "Verify" : "Sign in"}
        </SubmitButton>
        {needCode ? (
          <Button type="button" variant="ghost" onClick={() => { setNeedCode(false); setCode(""); }}>
            Back
          </Button>
        ) : null}
      </form> : null}
    </AuthCard>
  );
}

export function SignUpPage() {
  const { api, user } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  // An invitation link carries the invited address: the account is made for it.
  const [email, setEmail] = useState(() => params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useAction();
  // The server's password policy in a sentence (its providers answer, asked once a page load).
  const providers = useLoad(authProviders, []);

  if (user) return <Navigate to={nextPath(params)} replace />;

  const signUp = submit(async () => {
    await ok(api.http.POST("/api/auth/register", { body: { name, email, password }, ...anonymous }));
    await api.login(email, password);
    navigate(nextPath(params), { replace: true });
  });

  return (
    <AuthCard title="Create your account" footer={<Link to={`/signin${params.toString() ? `?${params}` : ""}`}>Already have an account? Sign in</Link>}>
      <form onSubmit={signUp} className="stack">
        <Field label="Name" name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
        <Field label="E-mail" name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          hint={providers.data?.password_rule || undefined}
          required
        />
        <ErrorText error={error} />
        <SubmitButton variant="primary" busy={busy}>
          Create account
        </SubmitButton>
      </form>
    </AuthCard>
  );
}

export function VerifyEmailPage() {
  const { api, user, reload } = useAuth();
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [done, setDone] = useState(false);
  const { error, setError, run } = useAction();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!token) {
      setError("This link has no token. Open the link from the e-mail again.");
      return;
    }
    void run(async () => {
      await ok(api.http.POST("/api/auth/verify-email", { body: { token }, ...anonymous }));
      setDone(true);
      // This tab and every other one drop the "verify your e-mail" banner.
      localStorage.setItem(VERIFIED_KEY, String(Date.now()));
      void reload();
    });
  }, [api, token, reload, run, setError]);

  return (
    <AuthCard title="Verify your e-mail">
      {!done && !error ? <Spinner label="Checking the link…" /> : null}
      {done ? (
        <div className="stack">
          <Notice>Your e-mail address is verified. Thank you!</Notice>
          <Link className="btn btn-primary" to={user ? "/" : "/signin"}>
            {user ? "Open MDReader" : "Sign in"}
          </Link>
        </div>
      ) : null}
      {error ? (
        <div className="stack">
          <ErrorText error={error} />
          <p className="muted">Signed in? Ask for a new link from your account settings.</p>
          <Link to="/">Back to MDReader</Link>
        </div>
      ) : null}
    </AuthCard>
  );
}

export function ForgotPasswordPage() {
  const { api } = useAuth();
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const { busy, error, submit } = useAction();

  const send = submit(async () => {
    await ok(api.http.POST("/api/auth/password-reset", { body: { email }, ...anonymous }));
    setSent(true);
  });

  return (
    <AuthCard title="Reset your password" footer={<Link to="/signin">Back to sign in</Link>}>
      {sent ? (
        <Notice>If an account uses {email}, a link to reset its password is on its way. It works for one hour.</Notice>
      ) : (
        <form onSubmit={send} className="stack">
          <p className="muted">We will e-mail you a link to choose a new password.</p>
          <Field label="E-mail" name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
          <ErrorText error={error} />
          <SubmitButton variant="primary" busy={busy}>
            Send the link
          </SubmitButton>
        </form>
      )}
    </AuthCard>
  );
}

export function ResetPasswordPage() {
  const { api } = useAuth();
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState(false);
  const [differ, setDiffer] = useState(false);
  const { busy, error, setError, submit } = useAction();

  const send = submit(async () => {
    await ok(api.http.POST("/api/auth/password-reset/confirm", { body: { token, password }, ...anonymous }));
    api.forget(); // every session of the account was ended
    setDone(true);
  });
  const change = (e: FormEvent) => {
    setDiffer(password !== confirm);
    if (password === confirm) return send(e);
    e.preventDefault();
    setError(null);
  };

  return (
    <AuthCard title="Choose a new password" footer={<Link to="/signin">Back to sign in</Link>}>
      {done ? (
        <div className="stack">
          <Notice>Your password is changed and every session was signed out.</Notice>
          <Link className="btn btn-primary" to="/signin">
            Sign in
          </Link>
        </div>
      ) : !token ? (
        <ErrorText error="This link has no token. Open the link from the e-mail again." />
      ) : (
        <form onSubmit={change} className="stack">
          <Field label="New password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required autoFocus />
          <Field
            label="Repeat it"
            name="confirm"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            error={differ ? "The two passwords differ." : null}
            required
          />
          <ErrorText error={error} />
          <SubmitButton variant="primary" busy={busy}>
            Change password
          </SubmitButton>
        </form>
      )}
    </AuthCard>
  );
}

export function AcceptInvitePage() {
  const { api, user, loading } = useAuth();
  const [params] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const token = params.get("token") ?? "";
  const { error, run } = useAction();
  const started = useRef(false);

  useEffect(() => {
    if (!user || started.current) return;
    started.current = true;
    void run(async () => {
      const ws = await ok(api.http.POST("/api/invitations/accept", { body: { token } }));
      navigate(`/w/${ws.id}`, { replace: true });
    });
  }, [api, user, token, navigate, run]);

  if (loading) return <Spinner />;
  if (!user) {
    const next = encodeURIComponent(location.pathname + location.search);
    const invited = params.get("email");
    const also = invited ? `&email=${encodeURIComponent(invited)}` : "";
    return (
      <AuthCard title="You are invited">
        <div className="stack">
          <p>Sign in or create an account with the invited e-mail address to join the workspace.</p>
          <Link className="btn btn-primary" to={`/signup?next=${next}${also}`}>
            Create an account
          </Link>
          <Link className="btn" to={`/signin?next=${next}${also}`}>
            Sign in
          </Link>
        </div>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Joining the workspace">
      {error ? (
        <div className="stack">
          <ErrorText error={error} />
          <Link to="/">Back to MDReader</Link>
        </div>
      ) : (
        <Spinner label="Accepting the invitation…" />
      )}
    </AuthCard>
  );
}
