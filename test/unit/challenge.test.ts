import { describe, expect, it } from 'vitest';
import { PaymentRequirement } from '../../shared/api.js';
import {
  bolt11AmountMsat,
  CHALLENGE_LIMITS,
  decodeBase64Text,
  encodeBase64Text,
  encodeL402Authorization,
  encodePaymentSignature,
  parseAuthChallenges,
  parseL402,
  parsePaymentRequired,
  parsePaymentSignature,
  parseX402Body,
  readChallenge,
  type ChallengeResult,
} from '../../shared/challenge.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64');
const value = <T>(r: ChallengeResult<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
};
const code = (r: ChallengeResult<unknown>) => (r.ok ? 'ok' : r.error.code);

const tollwayOption = {
  scheme: 'tollway',
  network: 'tollway:http://127.0.0.1:8402',
  amount: '1500',
  asset: 'SOVR',
  payTo: 'm_abc',
  maxTimeoutSeconds: 300,
  extra: { hub: 'http://127.0.0.1:8402', challengeId: 'ch_1', bind: ['method', 'path'] as ('method' | 'path')[] },
};
const exactOption = {
  scheme: 'exact',
  network: 'eip155:84532',
  amount: '10000',
  asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  maxTimeoutSeconds: 60,
  extra: { name: 'USDC', version: '2' },
};
const v2 = {
  x402Version: 2,
  error: 'PAYMENT-SIGNATURE header is required',
  resource: { url: 'https://shop.example/article/1', description: 'An article', mimeType: 'text/html' },
  accepts: [tollwayOption, exactOption],
};

describe('x402 version 2 PAYMENT-REQUIRED', () => {
  it('reads the resource and every option, amounts as strings, unknown fields kept', () => {
    const c = value(parsePaymentRequired(b64(v2)));
    expect(c.version).toBe(2);
    expect(c.resource).toEqual(v2.resource);
    expect(c.accepts).toEqual([tollwayOption, exactOption]);
    expect(typeof c.accepts[0]!.amount).toBe('string');
    expect(c.skipped).toBe(0);
    expect(c.serverError).toBe('PAYMENT-SIGNATURE header is required');
  });
  it('accepts URL-safe and unpadded base64 and surrounding whitespace', () => {
    const std = b64(v2);
    const url = std.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(value(parsePaymentRequired(` ${url} `)).accepts).toHaveLength(2);
  });
  it('accepts an amount of up to 2^256-1 exactly', () => {
    const big = (2n ** 256n - 1n).toString();
    const c = value(parsePaymentRequired(b64({ ...v2, accepts: [{ ...exactOption, amount: big }] })));
    expect(c.accepts[0]!.amount).toBe(big);
  });
  it('accepts a bare resource URL and no resource at all', () => {
    expect(value(parsePaymentRequired(b64({ ...v2, resource: 'https://x.example/a' }))).resource).toEqual({ url: 'https://x.example/a' });
    expect(value(parsePaymentRequired(b64({ ...v2, resource: undefined }))).resource).toBeNull();
    expect(value(parsePaymentRequired(b64({ ...v2, resource: { url: 'javascript:alert(1)' } }))).resource).toBeNull();
  });
  it('leaves out invalid options and counts them', () => {
    const c = value(parsePaymentRequired(b64({ ...v2, accepts: [{ ...exactOption, amount: '-5' }, tollwayOption, 'nonsense', null] })));
    expect(c.accepts).toEqual([tollwayOption]);
    expect(c.skipped).toBe(3);
  });
  it('every option it yields is one the hub accepts as a requirement', () => {
    for (const o of value(parsePaymentRequired(b64(v2))).accepts) expect(PaymentRequirement.safeParse(o).success).toBe(true);
  });
  it('refuses amounts that are not positive decimal strings of base units', () => {
    for (const amount of [
      '-1',
      '1.5',
      '0',
      '1e3',
      '0x10',
      ' 1',
      '',
      '01',
      (2n ** 256n).toString(),
      1500,
      1.5,
      -1,
      null,
      true,
      ['1'],
      { n: '1' },
    ]) {
      const r = parsePaymentRequired(b64({ ...v2, accepts: [{ ...exactOption, amount }] }));
      expect(code(r), JSON.stringify(amount)).toBe('invalid');
    }
  });
  it('refuses options missing what a payment needs', () => {
    for (const k of ['scheme', 'network', 'amount', 'asset', 'payTo'] as const) {
      const { [k]: _, ...rest } = exactOption;
      expect(code(parsePaymentRequired(b64({ ...v2, accepts: [rest] }))), k).toBe('invalid');
    }
    expect(code(parsePaymentRequired(b64({ ...v2, accepts: [{ ...exactOption, maxTimeoutSeconds: -1 }] })))).toBe('invalid');
    expect(code(parsePaymentRequired(b64({ ...v2, accepts: [{ ...exactOption, extra: { bind: ['cookies'] } }] })))).toBe('invalid');
  });
  it('tells unsupported versions from garbage', () => {
    expect(code(parsePaymentRequired(b64({ ...v2, x402Version: 3 })))).toBe('unsupported-version');
    expect(code(parsePaymentRequired(b64({ ...v2, x402Version: '2' })))).toBe('unsupported-version');
    expect(code(parsePaymentRequired(b64({ accepts: v2.accepts })))).toBe('invalid');
    expect(code(parsePaymentRequired(b64({ ...v2, accepts: [] })))).toBe('invalid');
    expect(code(parsePaymentRequired(b64({ ...v2, accepts: { 0: tollwayOption } })))).toBe('invalid');
  });
  it('returns typed errors for malformed input and never throws', () => {
    expect(code(parsePaymentRequired(''))).toBe('bad-json');
    expect(code(parsePaymentRequired('not base64 at all!'))).toBe('bad-encoding');
    expect(code(parsePaymentRequired('abcde'))).toBe('bad-encoding');
    expect(code(parsePaymentRequired(Buffer.from([0xff, 0xfe, 0x00]).toString('base64')))).toBe('bad-encoding');
    expect(code(parsePaymentRequired(b64('{"x402Version": 2, ')))).toBe('bad-json');
    for (const doc of ['null', '[]', '42', '"x"', 'true']) expect(code(parsePaymentRequired(b64(doc))), doc).toBe('invalid');
    for (const junk of [undefined, null, 42, {}, []] as unknown as string[]) expect(code(parsePaymentRequired(junk))).toBe('invalid');
  });
  it('refuses huge and deeply nested input', () => {
    expect(code(parsePaymentRequired('A'.repeat(CHALLENGE_LIMITS.headerChars + 4)))).toBe('too-large');
    const deep = `{"x402Version":2,"accepts":[${'['.repeat(5000)}${']'.repeat(5000)}]}`;
    expect(code(parsePaymentRequired(b64(deep)))).toBe('bad-json');
    const nested = { ...v2, accepts: [{ ...tollwayOption, extra: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }] };
    expect(code(parsePaymentRequired(b64(nested)))).toBe('bad-json');
    const many = { ...v2, accepts: Array.from({ length: CHALLENGE_LIMITS.accepts + 1 }, () => tollwayOption) };
    expect(code(parsePaymentRequired(b64(many)))).toBe('too-large');
  });
  it('drops prototype-pollution keys and pollutes nothing', () => {
    const hostile =
      '{"x402Version":2,"__proto__":{"polluted":1},"accepts":[{"scheme":"exact","network":"eip155:1","amount":"1","asset":"a","payTo":"b",' +
      '"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"extra":{"__proto__":{"isAdmin":true}}}]}';
    const c = value(parsePaymentRequired(b64(hostile)));
    const o = c.accepts[0]!;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).not.toContain('__proto__');
    expect(Object.keys(o)).not.toContain('constructor');
    expect((o as Record<string, unknown>).polluted).toBeUndefined();
    expect((o.extra as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('x402 version 1 body', () => {
  const v1 = {
    x402Version: 1,
    error: 'X-PAYMENT header is required',
    accepts: [
      {
        scheme: 'exact',
        network: 'base-sepolia',
        maxAmountRequired: '10000',
        resource: 'https://api.example/weather',
        description: 'Weather',
        mimeType: 'application/json',
        payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
        maxTimeoutSeconds: 60,
        asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
        outputSchema: { input: { type: 'http', method: 'GET' } },
        extra: { name: 'USDC', version: '2' },
      },
    ],
  };
  it('normalizes maxAmountRequired and the per-entry resource to the version 2 shape', () => {
    const c = value(parseX402Body(JSON.stringify(v1)));
    expect(c.version).toBe(1);
    expect(c.resource).toEqual({ url: 'https://api.example/weather', description: 'Weather', mimeType: 'application/json' });
    const o = c.accepts[0]!;
    expect(o.amount).toBe('10000');
    expect(o).not.toHaveProperty('maxAmountRequired');
    expect(o).not.toHaveProperty('resource');
    expect(o.network).toBe('base-sepolia');
    expect(o.outputSchema).toEqual(v1.accepts[0]!.outputSchema);
  });
  it('refuses numeric or missing maxAmountRequired', () => {
    expect(code(parseX402Body(JSON.stringify({ ...v1, accepts: [{ ...v1.accepts[0], maxAmountRequired: 10000 }] })))).toBe('invalid');
    const { maxAmountRequired: _, ...rest } = v1.accepts[0]!;
    expect(code(parseX402Body(JSON.stringify({ ...v1, accepts: [{ ...rest, amount: '5' }] })))).toBe('invalid');
  });
  it('refuses garbage and oversize bodies', () => {
    expect(code(parseX402Body('<html>402</html>'))).toBe('bad-json');
    expect(code(parseX402Body(' '.repeat(CHALLENGE_LIMITS.bodyChars + 1)))).toBe('too-large');
    expect(code(parseX402Body('{}'))).toBe('invalid');
  });
  it('is read from the body only when there is no PAYMENT-REQUIRED header', () => {
    const both = value(readChallenge({ headers: [{ name: 'Payment-Required', value: b64(v2) }], body: JSON.stringify(v1) }));
    expect(both.x402!.version).toBe(2);
    const bodyOnly = value(readChallenge({ headers: [{ name: 'content-type', value: 'application/json' }], body: JSON.stringify(v1) }));
    expect(bodyOnly.x402!.version).toBe(1);
  });
});

const MAC =
  'AgEEbHNhdAJCAAAClGOZrh7C569Yc7UMk8merfnMdIviyXr1qscW7VgpChNl21LkZ8Jex5QiPp+E1VaabeJDuWmlrh/j583axFpNAAIXc2VydmljZXM9cmFuZG9tbnVtYmVyOjAAAiZyYW5kb21udW1iZXJfY2FwYWJpbGl0aWVzPWFkZCxzdWJ0cmFjdAAABiAvFpzXGyc+8d/I9nMKKvAYP8w7kUlhuxS0eFN2sqmqHQ==';
const INV =
  'lnbc1500n1pj9nr5dpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgq';

describe('WWW-Authenticate: L402 and LSAT', () => {
  const expectL402 = (values: string[], scheme: 'L402' | 'LSAT' = 'L402') => {
    const c = value(parseL402(values));
    expect(c).toEqual({ kind: 'l402', scheme, macaroon: MAC, invoice: INV, amountMsat: '150000' });
  };
  it('reads the spec form: version, token, invoice', () => expectL402([`L402 version="0", token="${MAC}", invoice="${INV}"`]));
  it('reads macaroon= and a missing version', () => expectL402([`L402 macaroon="${MAC}", invoice="${INV}"`]));
  it('reads LSAT', () => expectL402([`LSAT macaroon="${MAC}", invoice="${INV}"`], 'LSAT'));
  it("reads aperture's two headers and prefers L402", () =>
    expectL402([`LSAT macaroon="${MAC}", invoice="${INV}"`, `L402 macaroon="${MAC}", invoice="${INV}"`]));
  it('reads both challenges joined into one value, as fetch joins repeated headers', () =>
    expectL402([`LSAT macaroon="${MAC}", invoice="${INV}", L402 macaroon="${MAC}", invoice="${INV}"`]));
  it('ignores unknown parameters, other schemes, case and spacing', () => {
    expectL402([
      `Bearer realm="api", error="invalid_token", l402 foo=bar ,  token="${MAC}",invoice=${INV} , expiry="3600", Basic YWxhZGRpbjpvcGVuc2VzYW1l`,
    ]);
    expectL402([`Basic realm="x"`, `Digest realm="a", nonce="b"`, `L402 token="${MAC}", invoice="${INV.toUpperCase()}"`]);
  });
  it('prefers token= over macaroon= when both appear', () => {
    const c = value(parseL402([`L402 macaroon="${MAC.slice(0, 20)}", token="${MAC}", invoice="${INV}"`]));
    expect(c.macaroon).toBe(MAC);
  });
  it('refuses a version it does not speak', () => {
    expect(code(parseL402([`L402 version="1", token="${MAC}", invoice="${INV}"`]))).toBe('unsupported-version');
  });
  it('refuses challenges missing or mangling the macaroon or invoice', () => {
    for (const v of [
      `L402 token="${MAC}"`,
      `L402 invoice="${INV}"`,
      `L402 token="not a macaroon!", invoice="${INV}"`,
      `L402 token="${MAC}", invoice="bitcoin:abc"`,
      `L402 token="${MAC}", invoice="lnxx1500n1qqqqqqqqqqq"`,
      `L402 token="${MAC}", invoice="lnbc0n1qqqqqqqqqqqqq"`,
      `L402 token="${MAC}", invoice="lnbc15p1qqqqqqqqqqqqq"`,
    ])
      expect(code(parseL402([v])), v).toBe('invalid');
  });
  it('refuses malformed headers without throwing', () => {
    for (const v of [`L402 token="${MAC}`, '=', ',,,', `L402 token=, invoice="${INV}"`, 'L402 a="b" c="d"', '\u0000', '"L402"'])
      expect(code(parseL402([v])), v).not.toBe('ok');
    expect(code(parseL402(['L402 ' + 'a="b", '.repeat(20_000)]))).toBe('too-large');
    expect(code(parseL402([`${'x="y", '.repeat(10)}`]))).not.toBe('ok');
    expect(code(parseL402(Array.from({ length: 3 }, () => 'Basic abc, '.repeat(20))))).toBe('invalid');
    expect(code(parseL402([]))).toBe('absent');
    expect(code(parseL402(['Bearer realm="x"']))).toBe('absent');
  });
  it('splits challenges per RFC 9110', () => {
    expect(parseAuthChallenges('Basic abc==, Bearer realm="a\\"b", error=x')).toEqual([
      { scheme: 'Basic', params: {}, token68: 'abc==' },
      { scheme: 'Bearer', params: { realm: 'a"b', error: 'x' } },
    ]);
    expect(parseAuthChallenges('Negotiate, L402 token="a"')?.map((c) => c.scheme)).toEqual(['Negotiate', 'L402']);
  });
  it('reads BOLT 11 amounts exactly, in millisatoshi', () => {
    expect(bolt11AmountMsat('lnbc1pvjluez')).toBeNull();
    expect(bolt11AmountMsat('lnbc2500u1pvjluez')).toBe(250_000_000n);
    expect(bolt11AmountMsat('lnbc20m1pvjluez')).toBe(2_000_000_000n);
    expect(bolt11AmountMsat('lntb10n1pvjluez')).toBe(1_000n);
    expect(bolt11AmountMsat('lnbcrt1230p1pvjluez')).toBe(123n);
    expect(bolt11AmountMsat('lnbc1231p1pvjluez')).toBeUndefined();
    expect(bolt11AmountMsat('lnbc21pvjluez')).toBe(200_000_000_000n);
  });
});

describe('a whole 402 response', () => {
  it('reads x402 and L402 side by side, header names in any case', () => {
    const c = value(
      readChallenge({
        headers: [
          { name: 'PAYMENT-REQUIRED', value: b64(v2) },
          { name: 'www-authenticate', value: `L402 version="0", token="${MAC}", invoice="${INV}"` },
        ],
      }),
    );
    expect(c.x402?.accepts).toHaveLength(2);
    expect(c.l402?.macaroon).toBe(MAC);
    expect(c.problems).toEqual([]);
  });
  it('keeps the readable half of a half-garbage response and reports the rest', () => {
    const c = value(
      readChallenge({
        headers: [
          { name: 'payment-required', value: '%%%' },
          { name: 'WWW-Authenticate', value: `LSAT macaroon="${MAC}", invoice="${INV}"` },
        ],
      }),
    );
    expect(c.x402).toBeNull();
    expect(c.l402?.scheme).toBe('LSAT');
    expect(c.problems.map((p) => p.code)).toEqual(['bad-encoding']);
  });
  it('yields no challenge from garbage', () => {
    expect(code(readChallenge({ headers: [] }))).toBe('absent');
    expect(code(readChallenge({ headers: [{ name: 'www-authenticate', value: 'Bearer realm="x"' }], body: '<html>' }))).toBe('absent');
    expect(
      code(readChallenge({ headers: [{ name: 'payment-required', value: b64({ x402Version: 2, accepts: [{ amount: '1' }] }) }] })),
    ).toBe('invalid');
    expect(code(readChallenge({ headers: [{ name: 'payment-required' }] }))).toBe('absent');
    for (const junk of [null, undefined, {}, { headers: 'x' }, { headers: [null, 42, { name: 1 }] }] as never[])
      expect(code(readChallenge(junk))).toBe('absent');
  });
});

describe('proofs', () => {
  it('encodes PAYMENT-SIGNATURE as base64 of the version 2 payload and reads it back', () => {
    const accepted = value(parsePaymentRequired(b64(v2))).accepts[0]!;
    const header = encodePaymentSignature({ resource: v2.resource, accepted, payload: { receipt: 'eyJ.x.y' } });
    expect(JSON.parse(Buffer.from(header, 'base64').toString('utf8'))).toEqual({
      x402Version: 2,
      resource: v2.resource,
      accepted: tollwayOption,
      payload: { receipt: 'eyJ.x.y' },
    });
    expect(value(parsePaymentSignature(header)).accepted).toEqual(tollwayOption);
  });
  it('keeps non-ASCII text intact through base64', () => {
    const resource = { url: 'https://x.example/ü', description: 'Artikel über Zölle – 💸' };
    const header = encodePaymentSignature({ resource, accepted: tollwayOption, payload: {} });
    expect(value(parsePaymentSignature(header)).resource).toEqual(resource);
    expect(value(decodeRoundTrip('💸'.repeat(50_000)))).toBe('💸'.repeat(50_000));
  });
  it('refuses payment payloads that are not version 2', () => {
    expect(code(parsePaymentSignature(b64({ x402Version: 1, scheme: 'exact', network: 'base', payload: {} })))).toBe('unsupported-version');
    expect(code(parsePaymentSignature(b64({ x402Version: 2, accepted: { scheme: 'exact' }, payload: {} })))).toBe('invalid');
    expect(code(parsePaymentSignature('!!'))).toBe('bad-encoding');
  });
  it('encodes the L402 credential with a hex preimage', () => {
    const pre = 'AB'.repeat(32);
    expect(value(encodeL402Authorization(MAC, pre))).toBe(`L402 ${MAC}:${'ab'.repeat(32)}`);
    expect(value(encodeL402Authorization([MAC, MAC], pre))).toBe(`L402 ${MAC},${MAC}:${'ab'.repeat(32)}`);
    expect(code(encodeL402Authorization(MAC, 'ab'))).toBe('invalid');
    expect(code(encodeL402Authorization('a b', pre))).toBe('invalid');
    expect(code(encodeL402Authorization([], pre))).toBe('invalid');
  });
});

function decodeRoundTrip(s: string) {
  return decodeBase64Text(encodeBase64Text(s));
}
