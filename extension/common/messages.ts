/**
 * Messages from extension pages to the service worker, and the replies. Both ends validate: a page
 * may be stale (opened by an older worker) and the worker trusts nothing it did not check.
 * Pages read state straight from chrome.storage (and its onChanged event); messages only ask the
 * worker to act. Passwords never travel in a message: pages decrypt the keystore themselves.
 */
import { z } from 'zod';
import { ServiceUrl as HubUrl } from '../../shared/url.js';


export const PageMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('approval.decide'), id: z.string().min(1).max(200), approve: z.boolean() }),
  z.object({ type: z.literal('approval.rejectAll') }),
  /** Sign in to the hub with the unlocked key (SIWE). */
  z.object({ type: z.literal('auth.signIn'), hubUrl: HubUrl }),
  /** Revoke the refresh token and forget the tokens; the key stays unlocked. */
  z.object({ type: z.literal('auth.signOut') }),
  /** Sign out and forget the unlocked key. */
  z.object({ type: z.literal('wallet.lock') }),
  /** Reconcile balances and payments with the hub now (the popup opened). */
  z.object({ type: z.literal('account.sync') }),
  /** Dev-mode hubs only (others answer 404): credit 10 test SOVR, so a newcomer can try paying. */
  z.object({ type: z.literal('dev.faucet') }),
]);
export type PageMessage = z.infer<typeof PageMessage>;

export const Reply = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: z.string() })]);
export type Reply = z.infer<typeof Reply>;
