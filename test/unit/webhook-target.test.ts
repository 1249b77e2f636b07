import { describe, expect, it } from 'vitest';
import {
  BlockedTargetError,
  blockedAddressReason,
  checkWebhookTarget,
  guardedLookup,
  resolveAll,
  staticTargetProblem,
  type ResolveAll,
} from '../../server/notify/webhooks-target.js';
import { guardedFetch } from '../../server/notify/webhooks.js';

// Only resolves and classifies: nothing here sends a packet anywhere.

const BLOCKED = [
  '127.0.0.1',
  '127.255.255.254',
  '0.0.0.0',
  '0.1.2.3',
  '10.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.0.1',
  '192.168.255.255',
  '169.254.169.254',
  '100.64.0.1',
  '224.0.0.1',
  '239.255.255.250',
  '255.255.255.255',
  '240.0.0.1',
  '192.0.2.10',
  '198.18.0.1',
  '::',
  '::1',
  '0:0:0:0:0:0:0:1',
  'fe80::1',
  'fe80::1%eth0',
  'fc00::1',
  'fd12:3456:789a::1',
  'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'ff02::1',
  'fec0::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.1.2.3',
  '::ffff:169.254.169.254',
  '::127.0.0.1',
  '64:ff9b::10.0.0.1',
  '64:ff9b::7f00:1',
  '2002:7f00:1::',
  '2002:c0a8:101::1',
  '2001:db8::1',
];
const PUBLIC = [
  '1.1.1.1',
  '8.8.8.8',
  '93.184.216.34',
  '172.15.255.255',
  '172.32.0.1',
  '192.169.0.1',
  '100.128.0.1',
  '11.0.0.1',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

describe('webhook target classification', () => {
  it.each(BLOCKED)('refuses %s', (ip) => {
    expect(blockedAddressReason(ip)).not.toBeNull();
  });
  it.each(PUBLIC)('allows the public address %s', (ip) => {
    expect(blockedAddressReason(ip)).toBeNull();
  });
  it('names why', () => {
    expect(blockedAddressReason('127.0.0.1')).toBe('loopback');
    expect(blockedAddressReason('10.1.1.1')).toBe('private');
    expect(blockedAddressReason('169.254.169.254')).toBe('link-local');
    expect(blockedAddressReason('fd00::1')).toMatch(/unique local/);
    expect(blockedAddressReason('::ffff:127.0.0.1')).toBe('IPv4-mapped loopback');
    expect(blockedAddressReason('0.0.0.0')).toMatch(/unspecified/);
    expect(blockedAddressReason('not-an-ip')).toBe('not an IP address');
  });
});

describe('webhook URL when it is set (no DNS)', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://10.0.0.5/hook',
    'http://172.20.1.1/hook',
    'http://192.168.1.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[fd00::1]/hook',
    'http://0.0.0.0:8402/',
    'http://2130706433/', // 127.0.0.1 as one number: the URL parser normalises it
    'http://0x7f.1/',
    'http://localhost:3000/hook',
    'http://api.localhost/hook',
  ])('refuses %s unless private targets are allowed', (url) => {
    expect(staticTargetProblem(url, false)).toMatch(/must not/);
    expect(staticTargetProblem(url, true)).toBeNull();
  });
  it.each(['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'not a url'])(
    'refuses %s always',
    (url) => {
      expect(staticTargetProblem(url, false)).not.toBeNull();
      expect(staticTargetProblem(url, true)).not.toBeNull();
    },
  );
  it('refuses credentials in the URL', () => {
    expect(staticTargetProblem('https://user:pw@shop.example/hook', true)).toMatch(/credentials/);
  });
  it('allows public addresses and names (names are judged at delivery)', () => {
    expect(staticTargetProblem('https://shop.example/hooks/tollway', false)).toBeNull();
    expect(staticTargetProblem('http://93.184.216.34/hook', false)).toBeNull();
    expect(staticTargetProblem('https://[2606:4700:4700::1111]/hook', false)).toBeNull();
  });
});

describe('webhook target at delivery time (DNS)', () => {
  const dns: Record<string, string[]> = {
    'loopback.test': ['127.0.0.1'],
    'v6loopback.test': ['::1'],
    'private10.test': ['10.1.2.3'],
    'private172.test': ['172.16.5.4'],
    'private192.test': ['192.168.1.10'],
    'metadata.test': ['169.254.169.254'],
    'ula.test': ['fd00::abcd'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'zero.test': ['0.0.0.0'],
    'mixed.test': ['93.184.216.34', '10.0.0.1'],
    'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  };
  const resolve: ResolveAll = async (host) => {
    const list = dns[host];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  it.each(['loopback', 'v6loopback', 'private10', 'private172', 'private192', 'metadata', 'ula', 'mapped', 'zero', 'mixed'])(
    'refuses a name resolving to a %s address, unless allowed',
    async (name) => {
      const url = `https://${name}.test/hook`;
      const refused = await checkWebhookTarget(url, { allowPrivate: false, resolve });
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.reason).toContain(`${name}.test resolves to`);
      expect((await checkWebhookTarget(url, { allowPrivate: true, resolve })).ok).toBe(true);
    },
  );
  it('allows a name whose every address is public', async () => {
    expect(await checkWebhookTarget('https://public.test/hook', { allowPrivate: false, resolve })).toEqual({
      ok: true,
      addresses: ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    });
  });
  it('refuses a name that does not resolve', async () => {
    const r = await checkWebhookTarget('https://nowhere.test/hook', { allowPrivate: false, resolve });
    expect(r).toEqual({ ok: false, reason: 'cannot resolve nowhere.test: ENOTFOUND' });
  });
  it('refuses IP literals without DNS and allows public ones', async () => {
    const never: ResolveAll = async () => {
      throw new Error('no DNS for literals');
    };
    expect((await checkWebhookTarget('http://127.0.0.1:9/x', { allowPrivate: false, resolve: never })).ok).toBe(false);
    expect((await checkWebhookTarget('http://[::ffff:127.0.0.1]/x', { allowPrivate: false, resolve: never })).ok).toBe(false);
    expect(await checkWebhookTarget('http://8.8.8.8/x', { allowPrivate: false, resolve: never })).toEqual({
      ok: true,
      addresses: ['8.8.8.8'],
    });
  });
  it('resolves localhost with the system resolver (node:dns lookup, all addresses) and refuses it', async () => {
    const addresses = await resolveAll('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    // "localhost" is refused by name already; check the addresses it resolves to are refused too.
    for (const a of addresses) expect(blockedAddressReason(a.address)).not.toBeNull();
  });

  it('the connection-time resolver refuses blocked addresses and hands back allowed ones', async () => {
    const lookup = guardedLookup(resolve);
    const call = (host: string, options: Parameters<typeof lookup>[1]) =>
      new Promise<{ err: Error | null; address: unknown; family?: number }>((done) =>
        lookup(host, options, (err, address, family) => done({ err, address, family })),
      );
    const refused = await call('mixed.test', {});
    expect(refused.err).toBeInstanceOf(BlockedTargetError);
    expect(refused.err?.message).toMatch(/10\.0\.0\.1/);
    expect(await call('public.test', { family: 4 })).toEqual({ err: null, address: '93.184.216.34', family: 4 });
    const all = await call('public.test', { all: true });
    expect(all.err).toBeNull();
    expect(all.address).toHaveLength(2);
  });

  it('the default transport connects only through that resolver (a name rebound to loopback is refused before connecting)', async () => {
    const rebound: ResolveAll = async () => [{ address: '127.0.0.1', family: 4 }];
    const send = guardedFetch({ allowPrivate: false, resolve: rebound });
    const init = { method: 'POST' as const, headers: {}, body: '{}', signal: AbortSignal.timeout(2000), redirect: 'manual' as const };
    await expect(send('http://rebind.test:9/hook', init)).rejects.toThrow(/rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
  });
});

describe('webhook configuration', () => {
  it('allows private targets in dev mode only, unless TOLLWAY_WEBHOOK_ALLOW_PRIVATE says otherwise', async () => {
    const { loadConfig } = await import('../../server/config.js');
    expect(loadConfig({}).webhookAllowPrivate).toBe(false);
    expect(loadConfig({ TOLLWAY_DEV: '1' }).webhookAllowPrivate).toBe(true);
    expect(loadConfig({ TOLLWAY_DEV: '1', TOLLWAY_WEBHOOK_ALLOW_PRIVATE: '0' }).webhookAllowPrivate).toBe(false);
    expect(loadConfig({ TOLLWAY_WEBHOOK_ALLOW_PRIVATE: '1' }).webhookAllowPrivate).toBe(true);
    expect(loadConfig({}).webhookTimeout).toBe(15);
    expect(loadConfig({ TOLLWAY_WEBHOOK_TIMEOUT: '30' }).webhookTimeout).toBe(30);
    expect(() => loadConfig({ TOLLWAY_WEBHOOK_TIMEOUT: '0' })).toThrow(/TOLLWAY_WEBHOOK_TIMEOUT/);
    expect(() => loadConfig({ TOLLWAY_WEBHOOK_ALLOW_PRIVATE: 'perhaps' })).toThrow(/TOLLWAY_WEBHOOK_ALLOW_PRIVATE/);
  });
});
