import { createServer } from 'node:net';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startHub, type Hub, type HubOptions } from '../../server/app.js';
import type { Clock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { freshStore, type Engine, type TestStore } from './stores.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The clock of each running test hub, by URL: signIn() dates its SIWE message by the hub's clock,
 * as a device whose clock agrees with the hub's would (the hub refuses an issuedAt far from its own).
 */
const hubClocks = new Map<string, Clock>();

export interface TestHub {
  hub: Hub;
  url: string;
  store: TestStore;
  stop(): Promise<void>;
}

/** A real hub on a real port with a fresh database of the given engine. */
export async function startTestHub(
  engine: Engine,
  opts: {
    clock?: Clock;
    env?: Record<string, string>;
    sweepIntervalMs?: number;
    rails?: HubOptions['rails'];
    store?: TestStore;
    keepStore?: boolean;
    /** Where the hub logs (silent by default), e.g. to check what a log line may never contain. */
    logger?: HubOptions['logger'];
    /** Webhook worker settings over the hub's (a schedule without jitter, a faster poll). */
    webhooks?: HubOptions['webhooks'];
  } = {},
): Promise<TestHub> {
  const store = opts.store ?? (await freshStore(engine));
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    TOLLWAY_DEV: '1',
    TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    TOLLWAY_DATA_DIR: store.env.TOLLWAY_DATA_DIR ?? `/tmp/tollway-pgtest-${port}`,
    TOLLWAY_LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const hub = await startHub({
    config,
    db: store.db,
    clock: opts.clock,
    logger: opts.logger ?? createLogger('silent'),
    sweepIntervalMs: opts.sweepIntervalMs,
    rails: opts.rails,
    webhooks: opts.webhooks,
  });
  if (opts.clock) hubClocks.set(hub.url, opts.clock);
  return {
    hub,
    url: hub.url,
    store,
    async stop() {
      hubClocks.delete(hub.url);
      await hub.close();
      if (!opts.keepStore) await store.cleanup();
    },
  };
}

export interface Session {
  wallet: Wallet;
  accessToken: string;
  refreshToken: string;
  user: { id: string; address: string };
}

/** Signs in the way the extension does: a nonce, a SIWE message signed by the wallet key. */
export async function signIn(url: string, wallet: Wallet = Wallet.createRandom() as unknown as Wallet): Promise<Session> {
  const { nonce } = (await (await fetch(`${url}/auth/nonce`)).json()) as { nonce: string };
  const u = new URL(url);
  const message = new SiweMessage({
    domain: u.host,
    address: wallet.address,
    statement: 'Sign in to Tollway',
    uri: url,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: new Date(hubClocks.get(url)?.now() ?? Date.now()).toISOString(),
  }).prepareMessage();
  const signature = await wallet.signMessage(message);
  const res = await fetch(`${url}/auth/siwe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as Omit<Session, 'wallet'>;
  return { wallet, ...body };
}

export async function createMerchant(
  url: string,
  name = 'Test shop',
): Promise<{ merchant: { id: string }; apiKey: string; webhookSecret: string }> {
  const res = await fetch(`${url}/merchants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`merchant failed: ${res.status} ${await res.text()}`);
  return res.json() as never;
}

export async function fund(url: string, s: Session, amount: string, asset = 'SOVR'): Promise<void> {
  const res = await fetch(`${url}/dev/faucet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
    body: JSON.stringify({ asset, amount }),
  });
  if (res.status !== 200) throw new Error(`faucet failed: ${res.status} ${await res.text()}`);
}

export async function pay(url: string, s: Session, key: string | undefined, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` };
  if (key !== undefined) headers['idempotency-key'] = key;
  return fetch(`${url}/payments`, { method: 'POST', headers, body: JSON.stringify(body) });
}

export async function balances(url: string, s: Session): Promise<Record<string, { posted: string; pending: string; available: string }>> {
  const res = await fetch(`${url}/accounts/me`, { headers: { authorization: `Bearer ${s.accessToken}` } });
  const body = (await res.json()) as { balances: { asset: string; posted: string; pending: string; available: string }[] };
  return Object.fromEntries(body.balances.map((b) => [b.asset, b]));
}
