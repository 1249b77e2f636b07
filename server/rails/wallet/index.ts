/**
 * The wallet rail: payments the person's own wallet settles. An x402 `exact` entry in any ERC-20
 * with EIP-3009 on any EVM network is paid by the wallet's signature and settled on chain by the
 * merchant's facilitator; the hub never holds, moves or reserves that money. What it does is keep
 * the books: the payment is recorded (checked against the signed authorization, charged to the
 * site's budget when it is an auto-payment), listed and streamed like every other, and finished by
 * the wallet's settlement report (the transaction hash from PAYMENT-RESPONSE, or a failure).
 *
 * No hub receipt is issued for these: the hub did not see the money move, so it vouches for nothing.
 */
import { ProblemError } from '../../../shared/problem.js';
import type { Queryable } from '../../store/types.js';
import type { Rail } from '../types.js';
import { checkAuthorization, type CheckedAuthorization } from './authorization.js';

/** Keeps which signed authorization the payment is; a second payment for the same one is refused. */
async function recordAuthorization(tx: Queryable, paymentId: string, a: CheckedAuthorization): Promise<void> {
  const r = await tx.run(
    `INSERT INTO wallet_payments (payment_id, network, token, payer, nonce, valid_before, digest)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (network, token, payer, nonce) DO NOTHING`,
    [paymentId, a.network, a.token, a.payer, a.nonce, a.validBefore, a.digest],
  );
  if (r.changes !== 1) {
    const first = await tx.get<{ payment_id: string }>(
      'SELECT payment_id FROM wallet_payments WHERE network = ? AND token = ? AND payer = ? AND nonce = ?',
      [a.network, a.token, a.payer, a.nonce],
    );
    throw new ProblemError('authorization-already-recorded', 'this authorization (its nonce) is recorded as another payment', {
      transactionId: first?.payment_id,
    });
  }
}

const never = (what: string) => () => {
  throw new Error(`the wallet rail never ${what}: the person's wallet settles and reports`);
};

export function createWalletRail(): Rail {
  return {
    name: 'wallet',
    settlement: 'wallet',
    // Budgets name the address paid, as the extension shows it.
    payeeOf: (payTo) => payTo.toLowerCase(),
    async prepare({ user, body }) {
      const checked = checkAuthorization({
        payer: user.address,
        payTo: body.payTo,
        amount: body.amount,
        asset: body.asset,
        authorization: body.authorization,
      });
      return { reserve: (tx, payment) => recordAuthorization(tx, payment.id, checked) };
    },
    resolvePayee: never('credits a hub account'),
    execute: never('executes'),
    resume: never('resumes'),
    info: async () => ({ name: 'wallet', assets: [] }),
  };
}
