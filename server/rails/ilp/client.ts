/**
 * The hub as an Open Payments client, through the official client (`@interledger/open-payments`),
 * which signs every request with the hub's key and checks every answer against the Open Payments
 * specifications. This module only narrows it to what the rail does and turns its errors into
 * one kind, whose message names the call and what the wallet said, never a token.
 */
import {
  type AuthenticatedClient,
  createAuthenticatedClient,
  type Grant,
  type IncomingPaymentWithPaymentMethods,
  isPendingGrant,
  OpenPaymentsClientError,
  type OutgoingPayment,
  type PendingGrant,
  type Quote,
  type WalletAddress,
} from '@interledger/open-payments';
import type { KeyObject } from 'node:crypto';

export interface Amount {
  value: string;
  assetCode: string;
  assetScale: number;
}

/** A call to a wallet failed: unreachable, refused, or an answer the specification does not allow. */
export class IlpCallError extends Error {
  constructor(
    readonly call: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`${call}: ${detail}`);
  }
}

export interface OutgoingLimits {
  debitAmount: Amount;
  receiver?: string;
  interval?: string;
}

export interface OpenPayments {
  walletAddress(url: string): Promise<WalletAddress>;
  /** A grant the auth server gives without interaction (incoming payments, quotes): its access token. */
  grantToken(authServer: string, access: 'incoming-payment' | 'quote'): Promise<string>;
  createIncomingPayment(
    wa: WalletAddress,
    token: string,
    args: { incomingAmount: Amount; expiresAt: string; metadata: Record<string, unknown> },
  ): Promise<IncomingPaymentWithPaymentMethods>;
  getIncomingPayment(url: string, token: string): Promise<IncomingPaymentWithPaymentMethods>;
  createQuote(wa: WalletAddress, token: string, receiver: string): Promise<Quote>;
  /** The interactive outgoing-payment grant: pending (a consent URL) unless the wallet grants at once. */
  requestOutgoingGrant(wa: WalletAddress, limits: OutgoingLimits, finish: { uri: string; nonce: string }): Promise<PendingGrant | Grant>;
  continueGrant(continueUri: string, continueToken: string, interactRef: string): Promise<Grant>;
  cancelGrant(continueUri: string, continueToken: string): Promise<void>;
  revokeToken(manageUrl: string, token: string): Promise<void>;
  /** A new access token for the same grant (the old one stops working): the value and its new management URL. */
  rotateToken(manageUrl: string, token: string): Promise<{ value: string; manage: string }>;
  createOutgoingPayment(
    wa: { id: string; resourceServer: string },
    token: string,
    args: { quoteId: string } | { incomingPayment: string; debitAmount: Amount },
    metadata: Record<string, unknown>,
  ): Promise<OutgoingPayment>;
  getOutgoingPayment(url: string, token: string): Promise<OutgoingPayment>;
  /** Outgoing payments on the wallet under this token, newest pages first (a look-up after a restart). */
  listOutgoingPayments(wa: { id: string; resourceServer: string }, token: string): Promise<OutgoingPayment[]>;
}

export function createOpenPayments(opts: {
  clientWalletAddress: string;
  keyId: string;
  privateKey: KeyObject;
  requestTimeoutMs?: number;
}): OpenPayments {
  let client: Promise<AuthenticatedClient> | undefined;
  const op = () => {
    client ??= createAuthenticatedClient({
      walletAddressUrl: opts.clientWalletAddress,
      privateKey: opts.privateKey,
      keyId: opts.keyId,
      validateResponses: true,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      // Its own logger stays silent: at debug it would print request bodies and tokens.
      logLevel: 'silent',
    });
    client.catch(() => (client = undefined));
    return client;
  };

  async function call<T>(name: string, f: (c: AuthenticatedClient) => Promise<T>): Promise<T> {
    try {
      return await f(await op());
    } catch (err) {
      if (err instanceof OpenPaymentsClientError) {
        const detail = [err.description, ...(err.validationErrors ?? []).slice(0, 3)].filter(Boolean).join('; ') || err.message;
        throw new IlpCallError(name, err.status, err.code, detail.slice(0, 300));
      }
      throw new IlpCallError(name, undefined, undefined, (err as Error).message.slice(0, 300));
    }
  }

  return {
    walletAddress: (url) => call('wallet address', (c) => c.walletAddress.get({ url })),
    async grantToken(authServer, type) {
      const grant = await call(`${type} grant`, (c) =>
        c.grant.request(
          { url: authServer },
          {
            access_token: {
              access: [
                type === 'incoming-payment' ? { type, actions: ['create', 'read', 'complete'] } : { type, actions: ['create', 'read'] },
              ],
            },
          },
        ),
      );
      if (isPendingGrant(grant) || !grant.access_token)
        throw new IlpCallError(`${type} grant`, undefined, undefined, 'the auth server asked for interaction where none is needed');
      return grant.access_token.value;
    },
    createIncomingPayment: (wa, token, args) =>
      call('incoming payment', (c) =>
        c.incomingPayment.create({ url: wa.resourceServer, accessToken: token }, { walletAddress: wa.id, ...args }),
      ),
    getIncomingPayment: (url, token) => call('incoming payment look-up', (c) => c.incomingPayment.get({ url, accessToken: token })),
    createQuote: (wa, token, receiver) =>
      call('quote', (c) =>
        c.quote.create({ url: wa.resourceServer, accessToken: token }, { walletAddress: wa.id, receiver, method: 'ilp' }),
      ),
    requestOutgoingGrant: (wa, limits, finish) =>
      call('outgoing-payment grant', (c) =>
        c.grant.request(
          { url: wa.authServer },
          {
            access_token: {
              access: [{ type: 'outgoing-payment', actions: ['create', 'read', 'list'], identifier: wa.id, limits }],
            },
            interact: { start: ['redirect'], finish: { method: 'redirect', uri: finish.uri, nonce: finish.nonce } },
          },
        ),
      ),
    async continueGrant(continueUri, continueToken, interactRef) {
      const grant = await call('grant continuation', (c) =>
        c.grant.continue({ url: continueUri, accessToken: continueToken }, { interact_ref: interactRef }),
      );
      if (!('access_token' in grant) || !grant.access_token)
        throw new IlpCallError('grant continuation', undefined, undefined, 'the auth server gave no access token');
      return grant as Grant;
    },
    cancelGrant: (continueUri, continueToken) =>
      call('grant cancellation', (c) => c.grant.cancel({ url: continueUri, accessToken: continueToken })),
    revokeToken: (manageUrl, token) => call('token revocation', (c) => c.token.revoke({ url: manageUrl, accessToken: token })),
    async rotateToken(manageUrl, token) {
      const t = await call('token rotation', (c) => c.token.rotate({ url: manageUrl, accessToken: token }));
      return { value: t.access_token.value, manage: t.access_token.manage };
    },
    createOutgoingPayment: (wa, token, args, metadata) =>
      call('outgoing payment', (c) =>
        c.outgoingPayment.create({ url: wa.resourceServer, accessToken: token }, { walletAddress: wa.id, ...args, metadata }),
      ),
    getOutgoingPayment: (url, token) => call('outgoing payment look-up', (c) => c.outgoingPayment.get({ url, accessToken: token })),
    async listOutgoingPayments(wa, token) {
      const out: OutgoingPayment[] = [];
      let cursor: string | undefined;
      // Bounded: a restart looks for one payment among the wallet's recent ones.
      for (let page = 0; page < 20; page++) {
        const r = await call('outgoing payment list', (c) =>
          c.outgoingPayment.list(
            { url: wa.resourceServer, accessToken: token, walletAddress: wa.id },
            cursor ? { first: 100, cursor, 'wallet-address': wa.id } : { first: 100, 'wallet-address': wa.id },
          ),
        );
        out.push(...r.result);
        if (!r.pagination.hasNextPage || !r.pagination.endCursor) break;
        cursor = r.pagination.endCursor;
      }
      return out;
    },
  };
}
