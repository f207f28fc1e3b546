// The Vault client's transport bounds every call: a server that accepts and never answers (or
// sends headers and then nothing) fails the call in time, as a transient error the activity
// retries, instead of holding it until Temporal's start-to-close timeout.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verdictOf } from '../../runtime/failure-type.js';
import { FAILURE } from '../../contracts/failures.js';
import { vaultTransport } from '../../config/vault-transport.js';

describe('the Vault transport', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((req, res) => {
      // /headers-only: the status line and headers, then silence; anything else: silence
      if (req.url === '/v1/headers-only') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
      }
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const path of ['/v1/silent', '/v1/headers-only']) {
    it(`fails a call to a server that stops answering (${path}) within its limit, transiently`, async () => {
      const send = vaultTransport(300).defaults();
      const t0 = Date.now();
      const error = await send({ method: 'GET', uri: `${base}${path}` }).then(
        () => assert.fail('answered'),
        (e: unknown) => e,
      );
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 5_000, `failed after ${took} ms`);
      assert.equal(verdictOf('Vault', error).type, FAILURE.transient);
    });
  }
});
