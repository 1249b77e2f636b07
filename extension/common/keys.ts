/**
 * Where the extension keeps things in chrome.storage. A module of its own, with no imports, so that
 * a page can start reading before the rest of its code (and its schemas) has been evaluated.
 * `local` survives browser restarts; `session` lives until the browser closes.
 */
export const KEYS = {
  /** local: which hub this wallet pays through (no secrets). */
  settings: 'tollway.settings',
  /** local: the wallet, only as an encrypted (scrypt) JSON keystore. The only secret in `local`. */
  keystore: 'tollway.keystore',
  /** session: the unlocked wallet key; gone when the browser closes, kept across worker restarts. */
  unlocked: 'tollway.unlocked',
  /** session: the hub session (access and refresh tokens). */
  hub: 'tollway.hub',
  /** session: balances and recent payments as last seen at the hub, with the live-status cursor. */
  account: 'tollway.account',
  /** session: declarativeNetRequest rules that carry a proof of payment to a reloading tab. */
  proofRules: 'tollway.proofRules',
  /** local: requests waiting for a decision or with a payment in flight. */
  approvals: 'tollway.approvals',
  /** local: finished requests, newest first, capped. */
  history: 'tollway.history',
  /** session: the id of the one approval window, so a restarted worker reuses it. */
  approvalWindow: 'tollway.approvalWindow',
  /** session: the person's budgets (the hub's allowances, per site and payee) as last read from the hub. */
  budgets: 'tollway.budgets',
  /** session: receipts of access passes that may be shown again (they are bearer proofs: never in `local`). */
  passes: 'tollway.passes',
  /** session: the hub's `GET /rails` (which rails it has, what to sign for SOVR), as last read. */
  rails: 'tollway.rails',
  /** local: slots the person holds at sites' slots APIs (public: a number and a date; common/holdings.ts). */
  holdings: 'tollway.holdings',
  /** session: token ids spent on those slots (bearer secrets: never in `local`). */
  slotTokens: 'tollway.slotTokens',
  /** local: what this wallet signed per token and UTC day, for the networks list's daily limits (evm-limit.ts). */
  evmSpent: 'tollway.evmSpent',
  /** local: settlements of wallet-rail payments the hub has not taken yet (evm-settle.ts). */
  evmReports: 'tollway.evmReports',
} as const;
