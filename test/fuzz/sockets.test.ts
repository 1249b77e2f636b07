import fc from 'fast-check';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { dbFingerprint, FUZZ_RUNS, fuzzParams } from './kit.js';

/**
 * The hub's Socket.IO namespaces (`/` for signed-in wallets, `/challenges` for pages waiting on a
 * challenge) with generated handshakes and events: a handshake is accepted or refused with
 * `connect_error`, never crashes the hub, and nothing a socket sends writes anything.
 */

let t: TestHub;
let me: Session;
const FORGED = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"usr_x"}').toString('base64url')}.`;

beforeAll(async () => {
  t = await startTestHub('sqlite');
  me = await signIn(t.url);
});
afterAll(async () => t?.stop());

const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constant('x'.repeat(20_000)));
const handshake = fc.record({
  nsp: fc.constantFrom('/', '/challenges', '/nope'),
  auth: fc.oneof(
    fc.dictionary(fc.constantFrom('token', 'lastSeq', 'challengeId', 'merchantId', 'x'), value, { maxKeys: 4 }),
    fc
      .record({ token: fc.constantFrom('valid', FORGED, '', 'a.b.c') })
      .map((a) => ({ token: a.token === 'valid' ? me.accessToken : a.token })),
    fc.record({
      challengeId: fc.oneof(fc.constant('ch_abcdefgh1234'), fc.string()),
      merchantId: fc.oneof(fc.constant('mch_x'), fc.string()),
    }),
  ),
  events: fc.array(fc.tuple(fc.string({ maxLength: 30 }), value), { maxLength: 3 }),
});

describe('fuzz: socket handshakes and events', () => {
  it('accepts or refuses cleanly, and writes nothing', async () => {
    const runs = Math.max(20, Math.floor(FUZZ_RUNS / 10));
    const seen = { connected: 0, refused: 0 };
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(handshake, async (h) => {
        const before = await dbFingerprint(t.store.db);
        const socket = connect(`${t.url}${h.nsp}`, {
          auth: h.auth as Record<string, unknown>,
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          timeout: 5000,
        });
        const outcome = await new Promise<'connected' | 'refused'>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', () => resolve('refused'));
        });
        seen[outcome]++;
        if (outcome === 'connected') {
          for (const [name, v] of h.events) {
            if (!['connect', 'disconnect', 'connect_error', 'disconnecting', 'newListener', 'removeListener'].includes(name))
              socket.emit(name, v);
          }
          // A round trip after the events: the hub has read them when it answers.
          await new Promise((r) => setTimeout(r, 5));
        }
        socket.close();
        expect(await dbFingerprint(t.store.db)).toBe(before);
      }),
      fuzzParams(runs),
    );
    const s = (performance.now() - started) / 1000;
    console.log(`fuzz sockets: ${runs} handshakes in ${s.toFixed(1)} s (${(runs / s).toFixed(0)}/s); ${JSON.stringify(seen)}`);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    // A valid token still connects after all that.
    const ok = connect(t.url, { auth: { token: me.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      ok.once('connect', () => resolve());
      ok.once('connect_error', reject);
    });
    ok.close();
  });
});
