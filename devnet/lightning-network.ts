/**
 * The simulated Lightning network the stand-in nodes (devnet/lnd.ts, cln.ts, lnbits.ts) share:
 * every invoice a stand-in issues is registered here, so that a payment sent by any stand-in on the
 * same network reaches the one that issued it, whatever software it plays. That is how a hub's node
 * and a merchant's node of different kinds pay each other in tests and local runs.
 *
 * There are no channels, routes or liquidity: an invoice is reachable when a node on the network
 * issued it, and a payment either settles it at once or is refused by its payee.
 */

/** What a payee says to a payment that reached it. */
export type Delivery =
  /** Settled: the payer learns the preimage. */
  | { preimage: string }
  /** The payee refused it: already paid, expired, canceled, or too little (BOLT 4's incorrect details). */
  | { refused: 'incorrect-details' };

/** A node's side of one of its invoices: settles it for a payment of `amountMsat`, or refuses. */
export type Receiver = (amountMsat: bigint) => Delivery;

export interface SimulatedNetwork {
  /** A node issued the invoice of this payment hash (hex) and takes payments for it through `receive`. */
  register(paymentHash: string, receive: Receiver): void;
  /** A payment of this hash arrives; `no-route` when no node on the network issued the invoice. */
  deliver(paymentHash: string, amountMsat: bigint): Delivery | { noRoute: true };
}

export function createSimulatedNetwork(): SimulatedNetwork {
  const payees = new Map<string, Receiver>();
  return {
    register(paymentHash, receive) {
      payees.set(paymentHash.toLowerCase(), receive);
    },
    deliver(paymentHash, amountMsat) {
      const receive = payees.get(paymentHash.toLowerCase());
      return receive ? receive(amountMsat) : { noRoute: true };
    },
  };
}
