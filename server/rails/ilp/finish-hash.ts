import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The finish redirect's `hash`: SHA-256 over `clientNonce\nASnonce\ninteract_ref\n<grant endpoint
 * URI>` (no trailing newline). Wallets disagree on its encoding (the docs say unpadded base64,
 * their example is base64url; Rafiki sends standard base64 with padding), so both sides are
 * brought to standard base64 without padding before the comparison.
 */
export function finishHash(clientNonce: string, asNonce: string, interactRef: string, grantEndpoint: string): string {
  return createHash('sha256').update(`${clientNonce}\n${asNonce}\n${interactRef}\n${grantEndpoint}`).digest('base64');
}

const normalise = (s: string) => s.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');

/** Whether `received` is the hash of this interaction, in any of the encodings wallets use; constant time. */
export function finishHashMatches(
  received: string,
  expected: { clientNonce: string; asNonce: string; interactRef: string; grantEndpoints: readonly string[] },
): boolean {
  const got = Buffer.from(normalise(received));
  let ok = false;
  for (const uri of expected.grantEndpoints) {
    const want = Buffer.from(normalise(finishHash(expected.clientNonce, expected.asNonce, expected.interactRef, uri)));
    // Every candidate is compared, so the time does not say which one matched.
    if (got.length === want.length && timingSafeEqual(got, want)) ok = true;
  }
  return ok;
}
