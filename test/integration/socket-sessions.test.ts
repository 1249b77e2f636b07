/**
 * A signed-in socket ends with what let it in: its access token (at `exp`) and its session (at
 * logout), on whichever hub process holds it; and the extension comes back with a fresh token.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Wallet } from 'ethers';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { createAuth } from '../../extension/background/auth.js';
import { createHubApi } from '../../extension/background/hub-api.js';
import { createLive } from '../../extension/background/live.js';
import { KEYS } from '../../extension/common/state.js';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A socket that records how it ended: the reason socket.io gives, and when. */
interface Watched {
  socket: Socket;
  ended: Promise<{ reason: string; at: number }>;
  updates: PaymentStatusUpdate[];
}

function open(url: string, token: string): Watched {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const updates: PaymentStatusUpdate[] = [];
  socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => void updates.push(u));
  const ended = new Promise<{ reason: string; at: number }>((resolve) =>
    socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() })),
  );
  return { socket, ended, updates };
}

function connected(s: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve();
    s.once('connect', () => resolve());
    s.once('connect_error', (e) => reject(e));
  });
}

/** Resolves with the end, or with 'still connected' after `ms`. */
const endedWithin = (w: Watched, ms: number) => Promise.race([w.ended.then((e) => e.reason), sleep(ms).then(() => 'still connected')]);

const payload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; sid?: string };

async function logout(url: string, s: Session): Promise<number> {
  const res = await fetch(`${url}/auth/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: s.refreshToken }),
  });
  return res.status;
}

describe.each(ENGINES)('signed-in sockets on %s', (engine) => {
  const sockets: Socket[] = [];
  const watch = (url: string, token: string) => {
    const w = open(url, token);
    sockets.push(w.socket);
    return w;
  };
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });

  describe('with 2-second access tokens', () => {
    let t: TestHub;
    beforeAll(async () => {
      t = await startTestHub(engine, { env: { TOLLWAY_ACCESS_TOKEN_TTL: '2' } });
    });
    afterAll(async () => t?.stop());

    it('disconnects a socket when its access token expires, not before; a fresh token gets back in', async () => {
      const s = await signIn(t.url);
      const w = watch(t.url, s.accessToken);
      await connected(w.socket);
      const { reason, at } = await Promise.race([w.ended, sleep(6000).then(() => ({ reason: 'still connected', at: Date.now() }))]);
      expect(reason).toBe('io server disconnect');
      const expMs = payload(s.accessToken).exp * 1000;
      expect(at).toBeGreaterThanOrEqual(expMs - 50);
      expect(at).toBeLessThan(expMs + 1500);

      // The expired token is refused; the one a refresh gives is let in.
      await expect(connected(watch(t.url, s.accessToken).socket)).rejects.toThrow();
      const res = await fetch(`${t.url}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: s.refreshToken }),
      });
      const fresh = (await res.json()) as { accessToken: string };
      const again = watch(t.url, fresh.accessToken);
      await connected(again.socket);
      expect(again.socket.connected).toBe(true);
    });

    it('the extension reconnects with a fresh token after the hub ended its socket', async () => {
      const wallet = Wallet.createRandom();
      const local = new MemoryStorage();
      const session = new MemoryStorage();
      const api = createHubApi({ t: tEn, fetch });
      const auth = createAuth({ t: tEn, local, session, api, sign: (pk, message) => new Wallet(pk).signMessage(message) });
      await session.set({ [KEYS.unlocked]: { address: wallet.address, privateKey: wallet.privateKey } });
      // The extension's own SIWE message (chain id, URI, issuedAt) passes the hub's checks.
      await auth.signIn(t.url);

      const events: string[] = [];
      const tokens: string[] = [];
      const live = createLive({
        session,
        api,
        current: () => auth.current(),
        open: (url, authFn) => {
          const sock = io(url, {
            transports: ['websocket'],
            forceNew: true,
            auth: (cb) => authFn((data) => (data.token && tokens.push(data.token), cb(data))),
          });
          sockets.push(sock);
          sock.on('connect', () => void events.push('connect'));
          sock.on('disconnect', (reason) => void events.push(reason));
          return sock;
        },
      });
      try {
        await live.start();
        const deadline = Date.now() + 8000;
        while (events.filter((e) => e === 'connect').length < 2 && Date.now() < deadline) await sleep(50);
        // Connected, ended by the hub at expiry, connected again with another token.
        expect(events.slice(0, 3)).toEqual(['connect', 'io server disconnect', 'connect']);
        expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);
      } finally {
        await live.signedOut();
      }
    });
  });

  describe('with default access tokens', () => {
    let t: TestHub;
    let merchant: string;
    beforeAll(async () => {
      t = await startTestHub(engine);
      merchant = (await createMerchant(t.url)).merchant.id;
    });
    afterAll(async () => t?.stop());

    it('logout disconnects the sockets of that session, and not those of another session of the same user', async () => {
      const wallet = Wallet.createRandom() as unknown as Wallet;
      const laptop = await signIn(t.url, wallet);
      const phone = await signIn(t.url, wallet);
      expect(laptop.user.id).toBe(phone.user.id);
      expect(payload(laptop.accessToken).sid).toBeTruthy();
      expect(payload(laptop.accessToken).sid).not.toBe(payload(phone.accessToken).sid);
      await fund(t.url, phone, '1000');

      const onLaptop = [watch(t.url, laptop.accessToken), watch(t.url, laptop.accessToken)];
      const onPhone = watch(t.url, phone.accessToken);
      await Promise.all([...onLaptop, onPhone].map((w) => connected(w.socket)));

      expect(await logout(t.url, laptop)).toBe(204);
      for (const w of onLaptop) expect(await endedWithin(w, 5000)).toBe('io server disconnect');

      // The other session still hears its payments.
      await pay(t.url, phone, `sess-${engine}-1`, { rail: 'internal', payTo: merchant, amount: '10', asset: 'SOVR' });
      const deadline = Date.now() + 5000;
      while (onPhone.updates.length === 0 && Date.now() < deadline) await sleep(20);
      expect(onPhone.updates.map((u) => u.status)).toEqual(['completed']);
      expect(onPhone.socket.connected).toBe(true);
    });

    it('a socket opened after logout with an access token of that session is disconnected at once', async () => {
      const s = await signIn(t.url);
      expect(await logout(t.url, s)).toBe(204);
      // The token itself still verifies (it is not stored, so it can't be revoked) …
      expect((await fetch(`${t.url}/accounts/me`, { headers: { authorization: `Bearer ${s.accessToken}` } })).status).toBe(200);
      // … but its session is over, so a socket doesn't stay.
      const w = watch(t.url, s.accessToken);
      expect(await endedWithin(w, 5000)).toBe('io server disconnect');
    });

    it('a refresh-token reuse (the session revoked) disconnects the session too', async () => {
      const s = await signIn(t.url);
      const w = watch(t.url, s.accessToken);
      await connected(w.socket);
      const refresh = (rt: string) =>
        fetch(`${t.url}/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: rt }),
        });
      expect((await refresh(s.refreshToken)).status).toBe(200);
      expect((await refresh(s.refreshToken)).status).toBe(401);
      expect(await endedWithin(w, 5000)).toBe('io server disconnect');
    });
  });

  describe('two hub processes sharing Redis', () => {
    let store: TestStore;
    const hubs: TestHub[] = [];
    beforeAll(async () => {
      store = await freshStore(engine);
      // One public URL and one key, as behind a load balancer.
      const port = await freePort();
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const env = { TOLLWAY_PUBLIC_URL: `http://127.0.0.1:${port}`, TOLLWAY_SIGNING_KEY: key, REDIS_URL };
      hubs.push(await startTestHub(engine, { store, keepStore: true, env: { ...env, PORT: String(port) } }));
      hubs.push(await startTestHub(engine, { store, keepStore: true, env }));
    });
    afterAll(async () => {
      for (const h of hubs) await h.stop();
      await store?.cleanup();
    });

    it('a logout on one process disconnects the session on the other, and only that session', async () => {
      const [a, b] = hubs as [TestHub, TestHub];
      const wallet = Wallet.createRandom() as unknown as Wallet;
      const gone = await signIn(a.url, wallet);
      const kept = await signIn(a.url, wallet);
      const onB = watch(b.url, gone.accessToken);
      const keptOnB = watch(b.url, kept.accessToken);
      await Promise.all([connected(onB.socket), connected(keptOnB.socket)]);

      // The adapter starts reading the stream in the background after start; a logout repeated
      // until then changes nothing (it is idempotent) but is heard once B reads.
      let reason = 'still connected';
      const deadline = Date.now() + 10_000;
      while (reason === 'still connected' && Date.now() < deadline) {
        expect(await logout(a.url, gone)).toBe(204);
        reason = await endedWithin(onB, 300);
      }
      expect(reason).toBe('io server disconnect');
      expect(await endedWithin(keptOnB, 500)).toBe('still connected');
    });
  });
});
