/**
 * The EIP-4361 (Sign-In with Ethereum) message the extension signs, built by hand in the exact
 * layout of the `siwe` package's `prepareMessage()` (a unit test holds the two equal), so that the
 * worker does not bundle a parser it never needs. The message itself stays English whatever the
 * browser's language: the hub checks it byte for byte. Only the errors are the person's words.
 */
import type { T } from './i18n.js';

export const SIWE_STATEMENT = 'Sign in to Tollway';

export interface SiweFields {
  /** The hub's URL; the message names its host as the domain and the URL itself as the URI. */
  hubUrl: string;
  /** EIP-55 checksummed address. */
  address: string;
  nonce: string;
  issuedAt: Date;
  chainId?: number;
}

export function siweMessage(f: SiweFields, t: T): string {
  const hub = new URL(f.hubUrl);
  if (!/^[A-Za-z0-9]{8,}$/.test(f.nonce)) throw new Error(t('worker_siwe_bad_nonce'));
  if (!/^0x[0-9a-fA-F]{40}$/.test(f.address)) throw new Error(t('worker_siwe_bad_address'));
  return [
    `${hub.host} wants you to sign in with your Ethereum account:`,
    f.address,
    '',
    SIWE_STATEMENT,
    '',
    `URI: ${hub.origin}`,
    'Version: 1',
    `Chain ID: ${f.chainId ?? 1}`,
    `Nonce: ${f.nonce}`,
    `Issued At: ${f.issuedAt.toISOString()}`,
  ].join('\n');
}
