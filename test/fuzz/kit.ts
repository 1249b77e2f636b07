import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Db } from '../../server/store/types.js';

/**
 * Shared pieces of the fuzz suites: the size (FUZZ_RUNS, small in `npm test`, 10,000 in
 * `npm run fuzz`), one fixed seed so every run is reproducible, and a database fingerprint that
 * proves a refused request wrote nothing.
 */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** FUZZ_SEED replays another seed; a failure prints the seed and path fast-check needs to replay it. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_261_204);

export function fuzzParams(runs: number): fc.Parameters<unknown> {
  // eslint-style note: fast-check's failure report already names seed and path; we print the seed
  // up front too so a passing run's log says how to reproduce it.
  console.log(`fuzz: seed=${FUZZ_SEED} runs=${runs} (replay: FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${runs})`);
  return { numRuns: runs, seed: FUZZ_SEED, endOnFailure: true, verbose: 1 };
}

/** Tables no request may write unless it is accepted: everything the hub stores except schema bookkeeping. */
export async function dbFingerprint(db: Db, skip: readonly string[] = []): Promise<string> {
  const tables = await db.all<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
  );
  const h = createHash('sha256');
  for (const { name } of tables) {
    if (skip.includes(name)) continue;
    const rows = await db.all(`SELECT * FROM "${name}" ORDER BY 1`);
    h.update(name);
    h.update(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v)));
  }
  return h.digest('hex');
}

/** Amounts a money field must refuse: wrong types, signs, fractions, exponents, radix prefixes, overflow. */
export const badAmount: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '1e3',
    '-1',
    '0x10',
    '01',
    '0',
    '1.5',
    '',
    ' 1',
    '1 ',
    '+1',
    'NaN',
    'Infinity',
    '１',
    (2n ** 256n).toString(),
    '9'.repeat(79),
    '9'.repeat(500),
    1,
    1.5,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    null,
    true,
    [],
    {},
  ),
  fc.bigInt({ min: -(2n ** 300n), max: -1n }).map(String),
  fc.bigInt({ min: 2n ** 256n, max: 2n ** 400n }).map(String),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}.${b}`),
  fc.double({ noNaN: false }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** Field names the hub's endpoints read, so generated objects reach validation past "unknown shape". */
const FIELDS = [
  'amount',
  'asset',
  'merchantId',
  'payTo',
  'rail',
  'requirement',
  'extra',
  'challengeId',
  'authorization',
  'origin',
  'payee',
  'name',
  'url',
  'events',
  'message',
  'signature',
  'refreshToken',
  'paymentPayload',
  'paymentRequirements',
  'x402Version',
  'scheme',
  'network',
  'reason',
  'resource',
  'address',
  'txHash',
];

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    'SOVR',
    'BTC',
    'USDC',
    'internal',
    'lightning',
    'sovr',
    'https://127.0.0.1/',
    'http://169.254.169.254/',
    '__proto__',
    'constructor',
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  badAmount,
);

/**
 * JSON bodies, all invalid for every endpoint: a bad amount is always present where an amount is
 * read, so nothing generated here can be accepted (the no-write check needs only refusals).
 */
export const jsonBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3, withBigInt: false, withDate: false, withMap: false, withSet: false, withTypedArray: false }),
  fc
    .tuple(
      fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(leaf, fc.dictionary(fc.constantFrom(...FIELDS), leaf, { maxKeys: 4 }))),
      badAmount,
    )
    .map(([o, amount]) => ({ ...o, amount })),
);

/** Raw bodies that are not JSON at all, or JSON the parser must refuse before anything recursive runs. */
export const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 33, max: 30_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 33, max: 30_000 }).map((n) => `{"authorization":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
  fc.integer({ min: 65 * 1024, max: 300 * 1024 }).map((n) => `{"amount":"${'1'.repeat(n)}"}`),
  fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map((b) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe, ...b]), Buffer.from('"}')])),
  fc.constantFrom('', 'null', '{', '{"amount":1e999999}', '"\\ud800"', '{"__proto__":{"admin":true}}', '[]', 'true'),
);

/** Path segments an id parameter must survive: traversal, encodings, huge, unicode, SQL-ish. */
export const badId: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom(
    '..%2F..%2Fetc',
    '%00',
    '%zz',
    "'%20OR%201=1--",
    'pay_',
    '0',
    '-1',
    'x'.repeat(5000),
    '%F0%9F%92%B8',
    'null',
    'undefined',
  ),
);
