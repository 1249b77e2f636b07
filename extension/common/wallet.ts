/**
 * The wallet key in extension pages: created or imported with ethers, kept at rest only as ethers'
 * scrypt JSON keystore (ethers' default scrypt cost, never lowered), unlocked into session storage.
 * The password stays in the page that asked for it.
 */
import { HDNodeWallet, Mnemonic, Wallet } from 'ethers';
import type { T } from './i18n.js';
import type { StoredKeystore, UnlockedKey } from './state.js';

export const MIN_PASSWORD = 8;

export type AnyWallet = Wallet | HDNodeWallet;

/** The keystore would not decrypt with that password (told apart from a keystore that is broken). */
export class WrongPasswordError extends Error {}

export function newWallet(): HDNodeWallet {
  return Wallet.createRandom();
}

/** A private key (64 hex, with or without 0x) or a BIP-39 recovery phrase. */
export function importWallet(secret: string, t: T): AnyWallet {
  const s = secret.trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(s)) return new Wallet(s.startsWith('0x') ? s : `0x${s}`);
  const words = s.toLowerCase().split(/\s+/).join(' ');
  if (!Mnemonic.isValidMnemonic(words)) throw new Error(t('onboarding_wallet_bad_secret'));
  return HDNodeWallet.fromPhrase(words);
}

export async function encryptWallet(w: AnyWallet, password: string, t: T, progress?: (p: number) => void): Promise<StoredKeystore> {
  if (password.length < MIN_PASSWORD) throw new Error(t('onboarding_password_short', MIN_PASSWORD));
  return { address: w.address, json: await w.encrypt(password, progress) };
}

export async function unlockKeystore(ks: StoredKeystore, password: string, t: T, progress?: (p: number) => void): Promise<UnlockedKey> {
  let w: AnyWallet;
  try {
    w = await Wallet.fromEncryptedJson(ks.json, password, progress);
  } catch {
    throw new WrongPasswordError(t('onboarding_wrong_password'));
  }
  if (w.address.toLowerCase() !== ks.address.toLowerCase()) throw new Error(t('wallet_keystore_mismatch'));
  return { address: w.address, privateKey: w.privateKey };
}

export const unlockedOf = (w: AnyWallet): UnlockedKey => ({ address: w.address, privateKey: w.privateKey });
