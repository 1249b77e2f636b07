/**
 * The checks a wallet-settled payment passes before it is recorded, all without a chain (the hub
 * has no node for most networks a person pays on): the signed EIP-3009 authorization is the signed-in
 * person's (its EIP-712 signature recovers their address), pays the payment's payee exactly its
 * amount, and is for the payment's token on the payment's network.
 */
import { TypedDataEncoder, getAddress, verifyTypedData } from 'ethers';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from '../../../shared/eip3009.js';
import { ProblemError } from '../../../shared/problem.js';
import { WalletAuthorization, parseTokenAsset } from '../../../shared/wallet-payments.js';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** What the hub keeps of a checked authorization (lower-case hex). */
export interface CheckedAuthorization {
  network: string;
  token: string;
  payer: string;
  nonce: string;
  validBefore: number;
  /** The EIP-712 digest the wallet signed: names the signed bytes without keeping the signature. */
  digest: string;
}

const refuse = (reason: string, detail: string, extra: Record<string, unknown> = {}) =>
  new ProblemError('wallet-authorization-invalid', detail, { reason, ...extra });

export function checkAuthorization(req: {
  payer: string | undefined;
  payTo: string;
  amount: string;
  asset: string;
  authorization: unknown;
}): CheckedAuthorization {
  const asset = parseTokenAsset(req.asset);
  if (!asset) throw new ProblemError('validation-error', 'a wallet payment is in a token: asset eip155:<chainId>/erc20:<address>');
  if (!ADDRESS.test(req.payTo)) throw new ProblemError('validation-error', 'payTo of a wallet payment is the 0x address paid');
  if (req.authorization === undefined)
    throw refuse('missing', 'a wallet payment needs `authorization`: the EIP-3009 authorization your wallet signed');
  const parsed = WalletAuthorization.safeParse(req.authorization);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ path: ['authorization', ...i.path].join('.'), message: i.message }));
    throw refuse('malformed', 'the authorization is not well formed', { errors });
  }
  const a = parsed.data;
  if (!req.payer) throw refuse('payer', 'this account has no wallet address to have signed it');
  if (a.from.toLowerCase() !== req.payer.toLowerCase())
    throw refuse('payer', "the authorization is not from the signed-in person's wallet");
  if (a.to.toLowerCase() !== req.payTo.toLowerCase()) throw refuse('recipient', 'the authorization pays another address than payTo');
  if (a.value !== req.amount) throw refuse('value', 'the authorization is for another amount');
  const validBefore = Number(a.validBefore);
  if (!Number.isSafeInteger(validBefore)) throw refuse('malformed', 'validBefore is past any time the hub can keep');

  const domain = { name: a.eip712.name, version: a.eip712.version, chainId: asset.chainId, verifyingContract: getAddress(asset.token) };
  const message = { from: a.from, to: a.to, value: a.value, validAfter: a.validAfter, validBefore: a.validBefore, nonce: a.nonce };
  let signer: string;
  try {
    signer = verifyTypedData(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message, a.signature);
  } catch {
    throw refuse('signature', 'the signature does not decode');
  }
  if (signer.toLowerCase() !== a.from.toLowerCase())
    throw refuse('signature', "the signature is not the payer's for this token, network and EIP-712 domain");
  return {
    network: asset.network,
    token: asset.token,
    payer: a.from.toLowerCase(),
    nonce: a.nonce.toLowerCase(),
    validBefore,
    digest: TypedDataEncoder.hash(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message),
  };
}
