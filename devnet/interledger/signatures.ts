/**
 * HTTP message signatures, checked as Rafiki checks them: with `@interledger/http-signature-utils`,
 * against the key the Signature-Input's `keyid` names in the client's wallet address JWKS. The JWKS
 * comes from this wallet's own directory when the client lives here (or registered its key with
 * `addClientKey`), otherwise over HTTP from `<client wallet address>/jwks.json`, as a real auth server
 * fetches it.
 */
import { getKeyId, type RequestLike, validateSignature, validateSignatureHeaders } from '@interledger/http-signature-utils';
import type { Incoming } from './http.js';
import type { ClientJwk } from './types.js';
import type { WalletDirectory } from './wallets.js';

export type KeyLookup = (client: string, kid: string) => Promise<ClientJwk | undefined>;

const JWKS_TIMEOUT_MS = 5_000;

function isJwk(k: unknown): k is ClientJwk {
  const j = k as Partial<ClientJwk> | null;
  return !!j && typeof j.kid === 'string' && j.kty === 'OKP' && j.crv === 'Ed25519' && typeof j.x === 'string';
}

export function keyLookup(wallets: WalletDirectory, fetchImpl: typeof fetch = fetch): KeyLookup {
  return async (client, kid) => {
    const known = wallets.knownKey(client, kid);
    if (known !== 'unknown-wallet') return known;
    try {
      const res = await fetchImpl(`${client.replace(/\/$/, '')}/jwks.json`, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      });
      if (!res.ok) return undefined;
      const doc = (await res.json()) as { keys?: unknown };
      if (!Array.isArray(doc.keys)) return undefined;
      return doc.keys.filter(isJwk).find((k) => k.kid === kid);
    } catch {
      return undefined;
    }
  };
}

function requestLike(req: Incoming): RequestLike {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return { method: req.method, url: req.targetUri, headers, body: req.rawBody === '' ? undefined : req.rawBody };
}

export type SignatureCheck = { ok: true; kid: string } | { ok: false; description: string };

/** Verifies the request's signature with the key `kid` of `client` (or with the given key, for a JWK client). */
export async function verifyRequestSignature(
  req: Incoming,
  signer: { client: string } | { jwk: ClientJwk },
  lookup: KeyLookup,
): Promise<SignatureCheck> {
  const like = requestLike(req);
  if (!validateSignatureHeaders(like))
    return { ok: false, description: 'the signature headers do not cover what they must, or the body does not match Content-Digest' };
  const kid = getKeyId(String(like.headers['signature-input']));
  if (!kid) return { ok: false, description: 'Signature-Input names no keyid' };
  const key = 'jwk' in signer ? (signer.jwk.kid === kid ? signer.jwk : undefined) : await lookup(signer.client, kid);
  if (!key) return { ok: false, description: `no key ${kid} for this client` };
  try {
    if (await validateSignature(key, like)) return { ok: true, kid };
  } catch {
    // A malformed key or signature is the same answer as a wrong one.
  }
  return { ok: false, description: 'the signature does not verify' };
}
