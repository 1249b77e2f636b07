/** Prepaid tokens and renewable slots: time on a numbered slot, bought with a Lightning invoice or through the hub. */
export { slots, requireSlot, type PaidSlot, type RequireSlotOptions, type SlotsHandler, type SlotsOptions } from './express.js';
export { slotsCore, type SlotsCore, type SlotsCoreOptions, type SlotsNode } from './core.js';
export type { SlotsAnswer, SlotsRequest } from './answers.js';
export type { HubPurchaseOptions } from './buy.js';
export { slotGate, EXPIRED_TEXT, type SlotCheck, type SlotGateOptions } from './require-slot.js';
export {
  MONTH_MS,
  MAX_VALUE_MSAT,
  MAX_EXPIRY_MS,
  durationMs,
  extendedExpiry,
  minValueMsat,
  valueForMonths,
  type Pricing,
} from './period.js';
export { openSlotStore } from './open-store.js';
export { sqliteSlotStore, type SqliteSlotStoreOptions } from './sqlite-store.js';
export { postgresSlotStore, type PostgresSlotStoreOptions } from './postgres-store.js';
export type {
  SlotRecord,
  SlotStore,
  SpendOutcome,
  TokenRecord,
  ExtendSlot,
  HubPaidToken,
  NewLightningToken,
  SqlStoreOptions,
} from './store.js';
