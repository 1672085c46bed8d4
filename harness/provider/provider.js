// An OpenID Connect provider for tests/test_auth_provider.py: oauth2-mock-server (package.json
// pins it) on 127.0.0.1 at the port given, with one RSA key. Its tokens are given what
// client-credentials tokens carry at Keycloak or Auth0 (RFC 9068): the client as `sub` and
// `client_id`. Prints one JSON line when listening ({"issuer", "kid"}); a line "rotate" on stdin
// makes a new signing key (the old one stays published) and prints {"kid"}; ends with stdin.
const readline = require('node:readline');
const { OAuth2Server } = require('oauth2-mock-server');

async function main(port) {
  const server = new OAuth2Server();
  let signing = await server.issuer.keys.generate('RS256');
  server.service.on('beforeTokenSigning', (token, req) => {
    if (req.body.grant_type === 'client_credentials' && req.body.client_id) {
      Object.assign(token.payload, { sub: req.body.client_id, client_id: req.body.client_id });
    }
  });
  // The URL tokens name as `iss` (unset, it would say localhost, which may resolve to ::1).
  server.issuer.url = `http://127.0.0.1:${port}`;
  await server.start(port, '127.0.0.1');
  console.log(JSON.stringify({ issuer: server.issuer.url, kid: signing.kid }));

  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() === 'rotate') {
      signing = await server.issuer.keys.generate('RS256');
      // The store signs with its first key and then moves it last: moving the old key last
      // puts the new one first, so the next token is signed with it.
      server.issuer.keys.get(server.issuer.keys.toJSON()[0].kid);
      console.log(JSON.stringify({ kid: signing.kid }));
    }
  }
  await server.stop();
}

main(Number(process.argv[2])).catch((error) => {
  console.error(error);
  process.exit(1);
});
