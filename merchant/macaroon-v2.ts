/**
 * A macaroon in libmacaroons' version 2 binary format, written here instead of by the `macaroon`
 * package. That package's exporter (3.0.4) never records its buffer's capacity, so it doubles the
 * buffer on every byte it appends: a macaroon with two caveats took a 200 MiB buffer and ~60 ms,
 * one with three 3.2 GiB and ~190 ms, and one with four throws. l402() exports a macaroon for every
 * unauthenticated 402, so each request cost the merchant that much (test/integration/attacks-proofs.test.ts).
 *
 * Format: version byte 2; fields `type ‖ uvarint length ‖ bytes` (location 1, identifier 2,
 * verification id 4, signature 6); a section ends with the end-of-section byte 0.
 *   2 [location] identifier EOS ( [location] identifier [vid] EOS )* EOS signature
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What is read of a macaroon: the `macaroon` package's getters. */
export interface MacaroonFields {
  readonly location?: string;
  readonly identifier: Uint8Array;
  readonly signature: Uint8Array;
  readonly caveats: readonly { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
}

const EOS = 0;
const LOCATION = 1;
const IDENTIFIER = 2;
const VID = 4;
const SIGNATURE = 6;

function uvarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

export function exportMacaroonV2(mac: MacaroonFields): Buffer {
  const parts: Buffer[] = [Buffer.from([2])];
  const field = (type: number, data: Uint8Array) => parts.push(Buffer.from([type, ...uvarint(data.length)]), Buffer.from(data));
  const end = () => parts.push(Buffer.from([EOS]));
  if (mac.location) field(LOCATION, Buffer.from(mac.location, 'utf8'));
  field(IDENTIFIER, mac.identifier);
  end();
  for (const c of mac.caveats) {
    if (c.location) field(LOCATION, Buffer.from(c.location, 'utf8'));
    field(IDENTIFIER, c.identifier);
    if (c.vid) field(VID, c.vid);
    end();
  }
  end();
  field(SIGNATURE, mac.signature);
  return Buffer.concat(parts);
}

/** A macaroon read from the version 2 binary format. */
export interface MacaroonV2 {
  location?: string;
  identifier: Buffer;
  caveats: { identifier: Buffer; location?: string; vid?: Buffer }[];
  signature: Buffer;
}

/** Reads one macaroon in the version 2 binary format; undefined when the bytes are anything else. */
export function importMacaroonV2(data: Buffer): MacaroonV2 | undefined {
  let at = 0;
  const byte = () => (at < data.length ? data[at++]! : -1);
  const peek = () => (at < data.length ? data[at]! : -1);
  const field = (type: number): Buffer | undefined => {
    if (byte() !== type) return undefined;
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      if (b < 0 || shift > 28) return undefined;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (at + n > data.length) return undefined;
    const out = data.subarray(at, at + n);
    at += n;
    return out;
  };
  const optional = (type: number) => (peek() === type ? field(type) : null);
  if (byte() !== 2) return undefined;
  const location = optional(LOCATION);
  const identifier = field(IDENTIFIER);
  if (location === undefined || !identifier || byte() !== EOS) return undefined;
  const caveats: MacaroonV2['caveats'] = [];
  while (peek() !== EOS) {
    const cl = optional(LOCATION);
    const cid = field(IDENTIFIER);
    const vid = optional(VID);
    if (cl === undefined || !cid || vid === undefined || byte() !== EOS) return undefined;
    caveats.push({ identifier: cid, ...(cl ? { location: cl.toString('utf8') } : {}), ...(vid ? { vid } : {}) });
  }
  at++;
  const signature = field(SIGNATURE);
  if (signature?.length !== 32 || at !== data.length) return undefined;
  return { ...(location ? { location: location.toString('utf8') } : {}), identifier, caveats, signature };
}

const KEY_GENERATOR = Buffer.from('macaroons-key-generator', 'utf8');

/**
 * Verifies a macaroon whose caveats are all first-party, as libmacaroons does (the root key made
 * into `HMAC-SHA256("macaroons-key-generator", rootKey)`, then an HMAC per caveat), with Node's
 * native HMAC: the `macaroon` package computes the same chain in pure JavaScript (sjcl), which
 * held L402 verification to a seventh of the rate of the route it protects. Unlike that package,
 * the signature is compared before any caveat is evaluated, so a forged token's caveats are
 * never read. Returns why it fails, or null.
 */
export function verifyFirstPartyV2(
  mac: MacaroonV2,
  rootKey: Uint8Array,
  check: (condition: string) => string | null,
): { signature: true } | { condition: string; reason: string } | null {
  if (mac.caveats.some((c) => c.vid)) throw new RangeError('third-party caveats need the macaroon package');
  let sig = createHmac('sha256', createHmac('sha256', KEY_GENERATOR).update(rootKey).digest()).update(mac.identifier).digest();
  for (const c of mac.caveats) sig = createHmac('sha256', sig).update(c.identifier).digest();
  if (!timingSafeEqual(sig, mac.signature)) return { signature: true };
  for (const c of mac.caveats) {
    const condition = c.identifier.toString('utf8');
    const reason = check(condition);
    if (reason) return { condition, reason };
  }
  return null;
}

/**
 * Mints a macaroon with first-party caveats, signed as libmacaroons signs (what `newMacaroon` and
 * `addFirstPartyCaveat` of the `macaroon` package compute, there in pure JavaScript at a few
 * milliseconds per challenge; here with Node's HMAC).
 */
export function mintMacaroonV2(o: { identifier: Buffer; location?: string; rootKey: Uint8Array; caveats: readonly string[] }): MacaroonV2 {
  let sig = createHmac('sha256', createHmac('sha256', KEY_GENERATOR).update(o.rootKey).digest()).update(o.identifier).digest();
  const caveats = o.caveats.map((c) => ({ identifier: Buffer.from(c, 'utf8') }));
  for (const c of caveats) sig = createHmac('sha256', sig).update(c.identifier).digest();
  return { ...(o.location ? { location: o.location } : {}), identifier: o.identifier, caveats, signature: sig };
}
