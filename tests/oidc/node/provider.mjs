// A real OpenID Connect provider for the single sign-on tests: the certified `oidc-provider`
// package with its development sign-in pages (any login and password; the login names the
// account). It listens on 127.0.0.1, port 0, prints {"issuer": "http://127.0.0.1:PORT"}, then
// reads its configuration as one JSON line on standard input (so that the app it serves can
// be started in between, knowing the issuer) and prints {"ready": true}:
//   {"clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//    "accounts": {"<login>": {email, email_verified, name}}}
// A login not in `accounts` is an account whose e-mail is the login, verified.
import http from "node:http";
import readline from "node:readline";
import Provider from "oidc-provider";

const server = http.createServer();
server.listen(0, "127.0.0.1", async () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  console.log(JSON.stringify({ issuer }));
  const lines = readline.createInterface({ input: process.stdin });
  const [line] = await lines[Symbol.asyncIterator]().next().then((r) => [r.value]);
  const config = JSON.parse(line ?? "{}");
  const accounts = config.accounts ?? {};
  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map((c) => ({
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      ...c,
    })),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ["mdreader-test-cookie-key"] },
    async findAccount(_ctx, id) {
      const known = accounts[id] ?? { email: id, email_verified: true, name: id.split("@")[0] };
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...known };
        },
      };
    },
  });
  provider.on("server_error", (_ctx, error) => console.error("server_error", error));
  server.on("request", provider.callback());
  console.log(JSON.stringify({ ready: true }));
});

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
