/**
 * The hub's ES256 signing key: access tokens and payment receipts are signed with it, and
 * merchants verify receipts offline against `jwks()` (served at /.well-known/jwks.json).
 *
 * Where the key comes from, in order: TOLLWAY_SIGNING_KEY (PKCS#8/SEC1 PEM or a private JWK as
 * JSON), else `<dataDir>/signing-key.json`, else a fresh key written there on first start. The
 * private key ends up as a non-extractable CryptoKey, so nothing holding a SigningKeys can export
 * (or accidentally log) the key material; only the public JWK is kept in the clear.
 *
 * Rotation: retired keys (TOLLWAY_PREVIOUS_SIGNING_KEYS) stay in the JWKS and keep verifying what
 * they signed until the operator removes them, but never sign again; of a retired key only the
 * public half is kept, so a retired private key given there is not even held in memory.
 */
import { createECDH, createPrivateKey, createPublicKey, KeyObject, randomBytes, sign as cryptoSign } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';

export const SIGNING_ALG = 'ES256';
export const SIGNING_KEY_FILE = 'signing-key.json';

export interface SignOptions {
  /** JOSE header `typ`, e.g. `at+jwt` for access tokens; verifiers pin it so tokens of one kind can't pass as another. */
  typ: string;
  expiresInSeconds: number;
  /** Milliseconds since the epoch, from the caller's injected clock (iat/exp derive from it). */
  now: number;
  issuer?: string;
  audience?: string | string[];
  subject?: string;
}

export interface SigningKeys {
  readonly kid: string;
  readonly alg: typeof SIGNING_ALG;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** Public JWK with kid, alg and use: exactly what goes into the JWKS. */
  readonly publicJwk: Readonly<JWK>;
  /** kids of the retired keys that still verify (and are published) but never sign. */
  readonly previousKids: readonly string[];
  /** The key that verifies signatures under `kid`: the current one or a retired one; else undefined. */
  verificationKey(kid: string | undefined): CryptoKey | undefined;
  /** The current key first, then the retired ones. */
  jwks(): { keys: JWK[] };
  /** A compact JWS with header `{alg: ES256, kid, typ}` and iat/exp from `opts.now`. */
  sign(claims: JWTPayload, opts: SignOptions): Promise<string>;
}

export interface LoadSigningKeysOptions {
  dataDir: string;
  /** The value of TOLLWAY_SIGNING_KEY, if set. */
  envKey?: string;
  /** The value of TOLLWAY_PREVIOUS_SIGNING_KEYS, if set: retired keys that still verify. */
  previousKeys?: string;
}

export async function loadSigningKeys(opts: LoadSigningKeysOptions): Promise<SigningKeys> {
  // Parsed first: a typo in the retired keys stops the hub before it creates a key file.
  const previous = parsePreviousKeys(opts.previousKeys);
  return fromPrivateJwk(await currentPrivateJwk(opts), previous);
}

async function currentPrivateJwk(opts: LoadSigningKeysOptions): Promise<JWK> {
  if (opts.envKey !== undefined && opts.envKey.trim() !== '') {
    try {
      return parseKeyText(opts.envKey);
    } catch (err) {
      // The reason never quotes the value: it is a secret.
      throw new Error(`TOLLWAY_SIGNING_KEY is not a usable ES256 private key: ${(err as Error).message}`);
    }
  }

  const file = join(opts.dataDir, SIGNING_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing) return existing;

  mkdirSync(opts.dataDir, { recursive: true });
  const fresh = await newPrivateJwk();
  // Write to a private temp file, then link it into place: link() fails if the name exists, so two
  // hub processes starting together on one data dir can't overwrite each other's key, and a
  // reader never sees a half-written file. The loser of the race uses the winner's key.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(fresh, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  const stored = readKeyFile(file);
  if (!stored) throw new Error(`signing key file ${file} vanished after it was written`);
  return stored;
}

/**
 * TOLLWAY_PREVIOUS_SIGNING_KEYS → the public halves of the retired keys. Accepted: PEMs separated
 * by commas (PEM has no commas; private PKCS#8/SEC1 or public SPKI), or JSON: one JWK, a list of
 * JWKs or PEM strings, or a JWKS `{"keys": [...]}` (e.g. an old copy of /.well-known/jwks.json).
 * A comma list can't hold JWKs (JSON has commas), hence the JSON forms. Messages name the entry by
 * position and never quote it: an operator may well paste the old private key here.
 */
export function parsePreviousKeys(text: string | undefined): JWK[] {
  if (text === undefined || text.trim() === '') return [];
  const trimmed = text.trim();
  let items: unknown[];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error('TOLLWAY_PREVIOUS_SIGNING_KEYS starts like JSON but is not valid JSON');
    }
    const set = (parsed as { keys?: unknown } | null)?.keys;
    items = Array.isArray(parsed) ? parsed : Array.isArray(set) ? set : [parsed];
  } else {
    items = trimmed
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  }
  return items.map((item, i) => {
    try {
      return publicPartOf(item);
    } catch (err) {
      throw new Error(`TOLLWAY_PREVIOUS_SIGNING_KEYS entry ${i + 1} is not a usable ES256 key: ${(err as Error).message}`);
    }
  });
}

/** A PEM, a JWK (JSON text or object), private or public → the validated public P-256 JWK. */
function publicPartOf(item: unknown): JWK {
  if (typeof item === 'string') {
    const t = item.trim();
    if (t.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch {
        throw new Error('the value starts like JSON but is not valid JSON');
      }
      return publicPartOf(parsed);
    }
    if (!t.startsWith('-----BEGIN')) throw new Error('expected a PEM or a JWK');
    let key: KeyObject;
    try {
      // A private PEM gives its public half; a public (SPKI) PEM is taken as it is.
      key = createPublicKey({ key: t, format: 'pem' });
    } catch {
      throw new Error('the PEM could not be read as a key');
    }
    return p256PublicJwk(key);
  }
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error('expected a PEM or a JWK');
  const j = item as Record<string, unknown>;
  if (j.kty !== 'EC' || j.crv !== 'P-256') throw new Error('the JWK must have kty "EC" and crv "P-256"');
  if (j.alg !== undefined && j.alg !== SIGNING_ALG) throw new Error(`the JWK's alg must be ${SIGNING_ALG}`);
  if (typeof j.d === 'string') {
    const derived = fromD(j.d);
    if ((j.x !== undefined && j.x !== derived.x) || (j.y !== undefined && j.y !== derived.y)) {
      throw new Error("the JWK's public part (x, y) does not match its private part (d)");
    }
    return { kty: 'EC', crv: 'P-256', x: derived.x, y: derived.y };
  }
  if (typeof j.x !== 'string' || typeof j.y !== 'string') throw new Error('the JWK has no x and y');
  let key: KeyObject;
  try {
    // Importing checks that (x, y) is a point on the curve.
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }, format: 'jwk' });
  } catch {
    throw new Error('x and y are not a P-256 public key');
  }
  return p256PublicJwk(key);
}

function p256PublicJwk(key: KeyObject): JWK {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the key must be an EC key on curve P-256');
  }
  const { x, y } = key.export({ format: 'jwk' }) as JWK;
  return { kty: 'EC', crv: 'P-256', x, y };
}

/** An in-memory key, for tests and tools. */
export async function generateSigningKeys(): Promise<SigningKeys> {
  return fromPrivateJwk(await newPrivateJwk());
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), alg: SIGNING_ALG };
}

function readKeyFile(file: string): JWK | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return parseKeyText(text);
  } catch (err) {
    throw new Error(`signing key file ${file} is not a usable ES256 private key: ${(err as Error).message}`);
  }
}

/**
 * PEM (PKCS#8 or SEC1) or private JWK JSON → a validated private P-256 JWK. Error messages are
 * ours, never the parser's: JSON.parse quotes the input it choked on, which here is a secret.
 */
function parseKeyText(text: string): JWK {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('-----BEGIN')) {
    try {
      key = createPrivateKey({ key: trimmed, format: 'pem' });
    } catch {
      throw new Error('the PEM could not be read as a private key (expected PKCS#8 "BEGIN PRIVATE KEY")');
    }
  } else if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error('the value starts like JSON but is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null) throw new Error('the JWK is not a JSON object');
    const j = parsed as Record<string, unknown>;
    if (j.kty !== 'EC' || j.crv !== 'P-256') throw new Error('the JWK must have kty "EC" and crv "P-256"');
    if (typeof j.d !== 'string') throw new Error('the JWK has no private part ("d")');
    if (j.alg !== undefined && j.alg !== SIGNING_ALG) throw new Error(`the JWK's alg must be ${SIGNING_ALG}`);
    const derived = fromD(j.d);
    // A JWK whose public half doesn't belong to its private half would publish a JWKS that can't
    // verify our own signatures; refuse it rather than silently fixing it.
    if ((j.x !== undefined && j.x !== derived.x) || (j.y !== undefined && j.y !== derived.y)) {
      throw new Error("the JWK's public part (x, y) does not match its private part (d)");
    }
    return derived;
  } else {
    throw new Error('expected a PEM ("-----BEGIN PRIVATE KEY-----") or a private JWK as JSON');
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the key must be an EC private key on curve P-256');
  }
  const d = (key.export({ format: 'jwk' }) as JWK).d;
  if (!d) throw new Error('the key has no private part');
  return fromD(d);
}

/** The full private JWK, with x/y computed from d (never trusted from the input). */
const b64url = (s: string) => Buffer.from(s).toString('base64url');

function fromD(d: string): JWK {
  let pub: Buffer;
  try {
    const raw = Buffer.from(d, 'base64url');
    if (raw.length !== 32) throw new Error();
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(raw);
    pub = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  } catch {
    throw new Error('"d" is not a valid P-256 private scalar');
  }
  return {
    kty: 'EC',
    crv: 'P-256',
    x: pub.subarray(1, 33).toString('base64url'),
    y: pub.subarray(33, 65).toString('base64url'),
    d,
  };
}

/** A public key as the JWKS lists it, with its kid (the RFC 7638 thumbprint) and CryptoKey. */
async function verifier(publicPart: JWK): Promise<{ kid: string; publicKey: CryptoKey; publicJwk: Readonly<JWK> }> {
  const pub: JWK = { kty: 'EC', crv: 'P-256', x: publicPart.x, y: publicPart.y };
  // kid = RFC 7638 thumbprint: stable for the key, whatever kid a file or env value carried.
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const publicKey = (await importJWK(pub, SIGNING_ALG, { extractable: true })) as CryptoKey;
  return { kid, publicKey, publicJwk: Object.freeze({ ...pub, kid, alg: SIGNING_ALG, use: 'sig' }) };
}

async function fromPrivateJwk(jwk: JWK, previous: readonly JWK[] = []): Promise<SigningKeys> {
  const { kid, publicKey, publicJwk } = await verifier(jwk);
  const privateKey = (await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }, SIGNING_ALG, {
    extractable: false,
  })) as CryptoKey;
  const keyObject = KeyObject.from(privateKey);
  // The current key listed again as a previous one (a rotation not finished yet) is listed once.
  const retired = new Map<string, Awaited<ReturnType<typeof verifier>>>();
  for (const p of previous) {
    const v = await verifier(p);
    if (v.kid !== kid) retired.set(v.kid, v);
  }

  return {
    kid,
    alg: SIGNING_ALG,
    privateKey,
    publicKey,
    publicJwk,
    previousKids: [...retired.keys()],
    verificationKey: (k) => (k === kid ? publicKey : k === undefined ? undefined : retired.get(k)?.publicKey),
    jwks: () => ({ keys: [{ ...publicJwk }, ...[...retired.values()].map((r) => ({ ...r.publicJwk }))] }),
    // Signed synchronously with node:crypto rather than through jose's WebCrypto path: WebCrypto
    // runs on the libuv thread pool, and under load each signature then waits a whole event-loop
    // round (tens of ms at 64 concurrent payments) where the signature itself costs ~20 µs.
    // The output is a plain compact JWS that jose (and every JOSE library) verifies.
    async sign(claims, o) {
      const iat = Math.floor(o.now / 1000);
      const payload: JWTPayload = { ...claims, iat, exp: iat + o.expiresInSeconds };
      if (o.issuer !== undefined) payload.iss = o.issuer;
      if (o.audience !== undefined) payload.aud = o.audience;
      if (o.subject !== undefined) payload.sub = o.subject;
      const header = { alg: SIGNING_ALG, kid, typ: o.typ };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      const signature = cryptoSign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}
