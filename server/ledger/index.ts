export * from './types.js';
export { createLedger } from './ledger.js';
export { checkInvariant } from './invariant.js';
export { AMOUNT_MAX, TRANSIENT } from './rules.js';
