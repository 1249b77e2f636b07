import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { exportMacaroonV2, type MacaroonFields } from '../../merchant/macaroon-v2.js';

interface Mac extends MacaroonFields {
  addFirstPartyCaveat(c: string): void;
  addThirdPartyCaveat(rootKey: Uint8Array, caveatId: string, location: string): void;
  exportBinary(): Uint8Array;
  verify(rootKey: Uint8Array, check: (c: string) => string | null, discharges?: Mac[]): void;
}
const lib = createRequire(import.meta.url)('macaroon') as {
  newMacaroon(o: { identifier: Uint8Array; rootKey: Uint8Array; location?: string; version: 2 }): Mac;
  importMacaroons(b: string | Uint8Array): Mac[];
};

const ROOT = Buffer.alloc(32, 7);
const make = (location?: string) =>
  lib.newMacaroon({ identifier: Buffer.alloc(66, 1), rootKey: ROOT, version: 2, ...(location ? { location } : {}) });

describe('exportMacaroonV2', () => {
  // The package's own exporter is only cheap with at most one caveat (it doubles its buffer per
  // byte appended), so byte equality is checked there, and round trips beyond it.
  it('writes the bytes the macaroon package writes', () => {
    const bare = make('lsat');
    expect(exportMacaroonV2(bare)).toEqual(Buffer.from(bare.exportBinary()));
    const noLocation = make();
    expect(exportMacaroonV2(noLocation)).toEqual(Buffer.from(noLocation.exportBinary()));
    const firstParty = make('lsat');
    firstParty.addFirstPartyCaveat('services=premium:0');
    expect(exportMacaroonV2(firstParty)).toEqual(Buffer.from(firstParty.exportBinary()));
    const thirdParty = make('lsat');
    thirdParty.addThirdPartyCaveat(Buffer.alloc(32, 9), 'third-party-id', 'https://auth.example');
    expect(exportMacaroonV2(thirdParty)).toEqual(Buffer.from(thirdParty.exportBinary()));
  });

  it('round-trips many caveats, long fields included, and the signature still verifies', () => {
    const mac = make('lsat');
    const conditions = ['services=premium:0', `premium_valid_until=${'9'.repeat(10)}`, `long=${'x'.repeat(300)}`, 'a=1', 'b=2', 'c=3'];
    for (const c of conditions) mac.addFirstPartyCaveat(c);
    const bytes = exportMacaroonV2(mac);
    expect(bytes.length).toBeLessThan(600);
    const back = lib.importMacaroons(bytes)[0]!;
    expect(Buffer.from(back.identifier)).toEqual(Buffer.alloc(66, 1));
    expect(back.location).toBe('lsat');
    expect(back.caveats.map((c) => Buffer.from(c.identifier).toString())).toEqual(conditions);
    expect(Buffer.from(back.signature)).toEqual(Buffer.from(mac.signature));
    const seen: string[] = [];
    back.verify(ROOT, (c) => (seen.push(c), null));
    expect(seen).toEqual(conditions);
    expect(() => back.verify(Buffer.alloc(32, 8), () => null)).toThrow();
  });
});
