import { Navigate, Route, Routes, useLocation } from "react-router";
import { Suspense, lazy, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { authProviders, useAuth } from "./auth";
import type { AuthProviders } from "./lib/cognito";
import { CognitoCallbackPage, CognitoSignInPage } from "./pages/CognitoPages";
import { SsoCallbackPage } from "./pages/SsoPages";
import { Button, Spinner } from "./components/ui";
import {
  AcceptInvitePage,
  ForgotPasswordPage,
  ResetPasswordPage,
  SignInPage,
  SignUpPage,
  VerifyEmailPage,
} from "./pages/AuthPages";
import { HomePage } from "./pages/HomePage";
import { WorkspaceLayout } from "./pages/WorkspaceLayout";
import { WorkspaceHome } from "./pages/WorkspaceHome";
import { MembersPage } from "./pages/MembersPage";
import { TrashPage } from "./pages/TrashPage";
import { WorkspaceSettingsPage } from "./pages/WorkspaceSettingsPage";
import { DocumentRedirect } from "./features/links/DocumentRedirect";

// The editor (CodeMirror, Yjs, markdown-it) and the account page (QR codes) load on demand.
const DocumentPage = lazy(() => import("./pages/DocumentPage").then((m) => ({ default: m.DocumentPage })));
const AccountPage = lazy(() => import("./pages/AccountPage").then((m) => ({ default: m.AccountPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Spinner />}>{children}</Suspense>;
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading, error, reload } = useAuth();
  const location = useLocation();
  if (loading) return <Spinner />;
  if (error && !user) {
    return (
      <div className="center-page">
        <p>{error}</p>
        <Button onClick={() => void reload()}>Try again</Button>
      </div>
    );
  }
  if (!user) {
    const next = location.pathname === "/" ? "" : `?next=${encodeURIComponent(location.pathname + location.search)}`;
    return <Navigate to={`/signin${next}`} replace />;
  }
  return <>{children}</>;
}

/** The sign-in MDReader offers: its own form, or a Cognito user pool's hosted UI. */
function useProviders(): AuthProviders | null {
  const [providers, setProviders] = useState<AuthProviders | null>(null);
  useEffect(() => {
    authProviders().then(setProviders, () =>
      setProviders({ provider: "local", cognito: null, password: true, oidc: [] }),
    );
  }, []);
  return providers;
}

function SignInRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner />;
  return providers.cognito ? <CognitoSignInPage config={providers.cognito} /> : <SignInPage providers={providers} />;
}

function SsoRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner label="Signing in…" />;
  return <SsoCallbackPage providers={providers.oidc ?? []} />;
}

function CallbackRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner />;
  if (!providers.cognito) return <Navigate to="/signin" replace />;
  return <CognitoCallbackPage config={providers.cognito} />;
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<SignInRoute />} />
      <Route path="/auth/callback" element={<CallbackRoute />} />
      <Route path="/auth/sso" element={<SsoRoute />} />
      <Route path="/signup" element={<SignUpPage />} />
      <Route path="/verify-email" element={<VerifyEmailPage />} />
      <Route path="/forgot-password" element={<ForgotPasswordPage />} />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route path="/invite" element={<AcceptInvitePage />} />
      <Route path="/" element={<RequireAuth><HomePage /></RequireAuth>} />
      <Route path="/d/:did" element={<RequireAuth><DocumentRedirect /></RequireAuth>} />
      <Route path="/settings" element={<RequireAuth><Lazy><AccountPage /></Lazy></RequireAuth>} />
      <Route path="/w/:wid" element={<RequireAuth><WorkspaceLayout /></RequireAuth>}>
        <Route index element={<WorkspaceHome />} />
        <Route path="d/:did" element={<Lazy><DocumentPage /></Lazy>} />
        <Route path="members" element={<MembersPage />} />
        <Route path="trash" element={<TrashPage />} />
        <Route path="settings" element={<WorkspaceSettingsPage />} />
      </Route>
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
