// A real OpenID provider for MeshClaw's tests: panva/node-oidc-provider (OpenID Certified) on 127.0.0.1.
//
// Started by tests/oidc/conftest.py with one JSON argument:
//   {"port": 41234, "host": "localhost",
//    "client": {"client_id": "...", "client_secret": "...", "redirect_uri": "http://127.0.0.1:5555/auth/oidc/callback"},
//    "accounts": {"ada": {"email": "ada@example.org", "email_verified": true, "name": "Ada"}},
//    "claims_in_id_token": false}
//
// Sign-in uses the library's development interactions: a login page that accepts any password for the
// logins listed in "accounts" (the login is the account's `sub`), then a consent page. Everything is in
// memory and thrown away when the process ends.
//
// Loopback http setup: the issuer is http://<host>:<port>; the socket listens on 127.0.0.1 only. The
// library accepts an http issuer; it refuses http redirect URIs only for clients using the implicit flow,
// and this client is a "web" client using the authorization code flow alone, so an http redirect to
// 127.0.0.1 is valid. Its cookies get no Secure flag because Koa sees a plain http request. The tests name
// the issuer `localhost` while MeshClaw is `127.0.0.1`: two different sites to the browser, so the way back
// from the provider is a cross-site navigation, as it is in production.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const issuer = `http://${config.host ?? '127.0.0.1'}:${config.port}`;

// A fresh signing key per run, published at the JWKS endpoint; MeshClaw must fetch it to verify tokens.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.client.client_id,
      client_secret: config.client.client_secret,
      redirect_uris: [config.client.redirect_uri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The library's default (true) puts user claims in the userinfo response only, never in the ID token of
  // the code flow; many real providers put them in the ID token too. The tests exercise both.
  conformIdTokenClaims: !config.claims_in_id_token,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = config.accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
});

provider.listen(config.port, '127.0.0.1', () => {
  // The fixture waits for this line before it lets a test start.
  process.stdout.write(`listening ${issuer}\n`);
});
