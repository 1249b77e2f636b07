import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** The hub's Ed25519 signing key, and its public half as the JWK a client wallet address lists. */
export interface IlpSigningKey {
  privateKey: KeyObject;
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
}

// PKCS#8 DER of an Ed25519 private key is this prefix followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Reads the key in the forms wallets hand it out: PEM, base64 of the PEM (the Interledger test
 * wallet), base64 of PKCS#8 DER, or base64 of the bare 32-byte seed. The message of a refusal never
 * quotes the key.
 */
export function loadSigningKey(text: string): IlpSigningKey {
  const privateKey = parse(text.trim());
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`must be an Ed25519 key, not ${privateKey.asymmetricKeyType ?? 'this kind'}`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new Error('the public half could not be derived');
  return { privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } };
}

function parse(text: string): KeyObject {
  try {
    if (text.startsWith('-----BEGIN')) return createPrivateKey(text);
    const raw = Buffer.from(text, 'base64');
    const asText = raw.toString('utf8');
    if (asText.startsWith('-----BEGIN')) return createPrivateKey(asText);
    if (raw.length === 32) return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    return createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('is not a private key in PEM, or base64 of a PEM, PKCS#8 DER or a 32-byte Ed25519 seed');
  }
}
