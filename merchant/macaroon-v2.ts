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
