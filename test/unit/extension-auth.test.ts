import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { createAuth, REFRESH_MARGIN_MS } from '../../extension/background/auth.js';
import { HubError, type HubApi, type Tokens } from '../../extension/background/hub-api.js';
import { siweMessage } from '../../extension/common/siwe.js';
import { KEYS, type HubSession } from '../../extension/common/state.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const HUB = 'http://127.0.0.1:8402';

describe('SIWE message', () => {
  it('is byte for byte what the siwe package prepares, and parses back', () => {
    const wallet = Wallet.createRandom();
    const issuedAt = new Date('2026-01-02T03:04:05.678Z');
    for (const hubUrl of ['http://127.0.0.1:8402', 'https://hub.example']) {
      const mine = siweMessage({ hubUrl, address: wallet.address, nonce: 'abcdef0123456789', issuedAt }, tEn);
      const u = new URL(hubUrl);
      const theirs = new SiweMessage({
        domain: u.host,
        address: wallet.address,
        statement: 'Sign in to Tollway',
        uri: u.origin,
        version: '1',
        chainId: 1,
        nonce: 'abcdef0123456789',
        issuedAt: issuedAt.toISOString(),
      }).prepareMessage();
      expect(mine).toBe(theirs);
      expect(new SiweMessage(mine)).toMatchObject({ domain: u.host, uri: u.origin, chainId: 1, nonce: 'abcdef0123456789' });
    }
  });
  it('refuses a nonce that could smuggle lines into the message', () => {
    expect(() =>
      siweMessage({ hubUrl: HUB, address: Wallet.createRandom().address, nonce: 'abc\nURI: evil', issuedAt: new Date() }, tEn),
    ).toThrow(/nonce/);
  });
});

class FakeApi implements HubApi {
  calls: string[] = [];
  n = 0;
  refreshAnswer: 'ok' | 'rejected' | 'down' = 'ok';
  signed: { message: string; signature: string }[] = [];
  constructor(private readonly address: string) {}
  tokens(): Tokens {
    this.n++;
    return {
      accessToken: `at_${this.n}`,
      refreshToken: `rt_${this.n}`,
      expiresIn: 900,
      tokenType: 'Bearer',
      user: { id: 'u_1', address: this.address },
    };
  }
  async nonce() {
    this.calls.push('nonce');
    return 'nonce0123456789';
  }
  async signIn(_url: string, message: string, signature: string) {
    this.calls.push('siwe');
    this.signed.push({ message, signature });
    return this.tokens();
  }
  async refresh(_url: string, rt: string) {
    this.calls.push(`refresh ${rt}`);
    await new Promise((r) => setTimeout(r, 5));
    if (this.refreshAnswer === 'rejected') throw new HubError(401, 'https://tollway.dev/problems/unauthorized', 'revoked');
    if (this.refreshAnswer === 'down') throw new HubError(0, 'about:blank', 'hub unreachable');
    return this.tokens();
  }
  async logout(_url: string, rt: string) {
    this.calls.push(`logout ${rt}`);
  }
  account = async () => ({ user: { id: 'u_1', address: this.address }, balances: [] });
  payments = async () => ({ data: [], nextCursor: null });
  paymentsPage = async () => ({ data: [], nextCursor: null });
  allowances = async () => ({ data: [] });
  putAllowance = async (): Promise<never> => Promise.reject(new Error('not used here'));
  deleteAllowance = async () => undefined;
  payment = async () => {
    throw new Error('unused');
  };
  faucet = async () => {
    throw new Error('unused');
  };
}

function setup() {
  const wallet = Wallet.createRandom();
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  const api = new FakeApi(wallet.address);
  let t = 1_000_000;
  const alarms: (number | null)[] = [];
  const changes: (HubSession | null)[] = [];
  const auth = createAuth({
    t: tEn,
    local,
    session,
    api,
    sign: (pk, message) => new Wallet(pk).signMessage(message),
    now: () => t,
    scheduleRefresh: async (at) => void alarms.push(at),
    onChange: (s) => void changes.push(s),
  });
  const unlock = () => session.set({ [KEYS.unlocked]: { address: wallet.address, privateKey: wallet.privateKey } });
  return { wallet, local, session, api, auth, alarms, changes, unlock, advance: (ms: number) => void (t += ms), now: () => t };
}

describe('hub session (auth)', () => {
  it('signs in with the unlocked key; tokens go to session storage only', async () => {
    const s = setup();
    await expect(s.auth.signIn(HUB)).rejects.toThrow(/locked/);
    await s.unlock();
    const session = await s.auth.signIn(`${HUB}/some/path`);
    expect(session).toMatchObject({ url: HUB, accessToken: 'at_1', refreshToken: 'rt_1', accessTokenExpiresAt: s.now() + 900_000 });
    const { message, signature } = s.api.signed[0]!;
    expect(message).toContain(`127.0.0.1:8402 wants you to sign in with your Ethereum account:\n${s.wallet.address}`);
    expect(new Wallet(s.wallet.privateKey).address).toBe((await import('ethers')).verifyMessage(message, signature));
    expect(s.session.peek(KEYS.hub)).toMatchObject({ accessToken: 'at_1' });
    expect(s.local.peek(KEYS.settings)).toEqual({ hubUrl: HUB });
    expect(JSON.stringify([...s.local.data.values()])).not.toMatch(/at_1|rt_1|privateKey/);
    expect(s.alarms.at(-1)).toBe(s.now() + 900_000 - REFRESH_MARGIN_MS);
  });

  it('refreshes before expiry, once for concurrent callers, with the rotated token', async () => {
    const s = setup();
    await s.unlock();
    await s.auth.signIn(HUB);
    expect((await s.auth.current())?.accessToken).toBe('at_1');
    s.advance(900_000 - REFRESH_MARGIN_MS / 2 + 1);
    const got = await Promise.all([s.auth.current(), s.auth.current(), s.auth.current()]);
    expect(got.map((x) => x?.accessToken)).toEqual(['at_2', 'at_2', 'at_2']);
    expect(s.api.calls.filter((c) => c.startsWith('refresh'))).toEqual(['refresh rt_1']);
    await s.auth.refresh();
    expect(s.api.calls.filter((c) => c.startsWith('refresh'))).toEqual(['refresh rt_1', 'refresh rt_2']);
  });

  it('a rejected refresh signs in again when unlocked, and signs out when locked', async () => {
    const s = setup();
    await s.unlock();
    await s.auth.signIn(HUB);
    s.api.refreshAnswer = 'rejected';
    expect((await s.auth.refresh())?.accessToken).toBe('at_2');
    expect(s.api.calls.filter((c) => c === 'siwe')).toHaveLength(2);
    await s.session.remove(KEYS.unlocked);
    expect(await s.auth.refresh()).toBeNull();
    expect(s.session.peek(KEYS.hub)).toBeUndefined();
    expect(s.changes.at(-1)).toBeNull();
  });

  it('keeps a still-valid token while the hub is unreachable', async () => {
    const s = setup();
    await s.unlock();
    await s.auth.signIn(HUB);
    s.api.refreshAnswer = 'down';
    s.advance(900_000 - 10_000);
    expect((await s.auth.current())?.accessToken).toBe('at_1');
    s.advance(20_000);
    expect(await s.auth.current()).toBeNull();
  });

  it('sign-out revokes the refresh token and keeps the key; lock forgets both', async () => {
    const s = setup();
    await s.unlock();
    await s.auth.signIn(HUB);
    await s.auth.signOut();
    expect(s.api.calls.at(-1)).toBe('logout rt_1');
    expect(s.session.peek(KEYS.hub)).toBeUndefined();
    expect(s.session.peek(KEYS.unlocked)).toBeDefined();
    await s.auth.signIn(HUB);
    await s.auth.lock();
    expect(s.api.calls.at(-1)).toBe('logout rt_2');
    expect([...s.session.data.keys()]).toEqual([]);
    expect(s.alarms.at(-1)).toBeNull();
  });
});
