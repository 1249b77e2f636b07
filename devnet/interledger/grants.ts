/**
 * The auth server's state: grants, their interactions and access tokens, as GNAP and Open Payments
 * describe them. No HTTP here; ./auth-routes.ts maps requests onto these operations and their
 * refusals onto the spec's error codes.
 *
 * A grant's life: `pending` (waiting for the person's consent, for at most the interaction TTL) →
 * `approved` (consented, waiting for the client to continue with the interact_ref) → `granted` (an
 * access token issued) → `revoked`; or `rejected` / `expired` from `pending`. The interact_ref is
 * good for one continuation only.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { ClientJwk } from './types.js';

export type AccessAction = 'create' | 'complete' | 'read' | 'read-all' | 'list' | 'list-all';

export interface Amount {
  value: bigint;
  assetCode: string;
  assetScale: number;
}

export interface AccessItem {
  type: 'incoming-payment' | 'outgoing-payment' | 'quote';
  actions: AccessAction[];
  identifier?: string;
  limits?: {
    receiver?: string;
    interval?: string;
    debitAmount?: Amount;
    receiveAmount?: Amount;
  };
}

export type GrantState = 'pending' | 'approved' | 'granted' | 'rejected' | 'revoked' | 'expired';

export interface Interaction {
  id: string;
  /** The AS nonce: in the interaction URL, sent back as `interact.finish`, and part of the hash. */
  nonce: string;
  clientNonce: string;
  finishUri: string;
  createdAt: Date;
  ref?: string;
}

export interface AccessToken {
  value: string;
  manageId: string;
  grantId: string;
  issuedAt: Date;
  revoked: boolean;
}

export interface Grant {
  id: string;
  /** The client's wallet address, or undefined for a directed-identity (JWK) client. */
  client?: string;
  /** The directed-identity key, when the client sent one instead of a wallet address. */
  clientJwk?: ClientJwk;
  access: AccessItem[];
  state: GrantState;
  continueId: string;
  continueToken: string;
  interaction?: Interaction;
  /** Payments made under this grant: what the limits count. */
  spent: { at: Date; debit: bigint; receive: bigint }[];
}

export type GrantRefusal =
  | { code: 'invalid_continuation'; status: 401 | 404; description: string }
  | { code: 'request_denied'; status: 401; description: string }
  | { code: 'invalid_client'; status: 401; description: string };

const token = () => randomBytes(20).toString('hex').toUpperCase();

/** SHA-256 over `clientNonce\nASnonce\ninteract_ref\ngrantEndpoint`, std base64 with padding as Rafiki sends it. */
export function finishHash(clientNonce: string, asNonce: string, interactRef: string, grantEndpoint: string): string {
  return createHash('sha256').update(`${clientNonce}\n${asNonce}\n${interactRef}\n${grantEndpoint}`).digest('base64');
}

export class GrantBook {
  readonly #grants = new Map<string, Grant>();
  readonly #byContinue = new Map<string, Grant>();
  readonly #byInteraction = new Map<string, Grant>();
  readonly #tokens = new Map<string, AccessToken>();
  readonly #byManage = new Map<string, AccessToken>();

  constructor(
    private readonly now: () => Date,
    private readonly interactionTtlMs: number,
    private readonly tokenTtlSeconds: number,
  ) {}

  get tokenLifetimeSeconds(): number {
    return this.tokenTtlSeconds;
  }

  create(input: {
    client?: string;
    clientJwk?: Grant['clientJwk'];
    access: AccessItem[];
    interact?: { clientNonce: string; finishUri: string };
  }): Grant {
    const grant: Grant = {
      id: randomUUID(),
      client: input.client,
      clientJwk: input.clientJwk,
      access: input.access,
      state: input.interact ? 'pending' : 'granted',
      continueId: randomUUID(),
      continueToken: token(),
      spent: [],
    };
    if (input.interact) {
      grant.interaction = {
        id: randomUUID(),
        nonce: randomUUID(),
        clientNonce: input.interact.clientNonce,
        finishUri: input.interact.finishUri,
        createdAt: this.now(),
      };
      this.#byInteraction.set(grant.interaction.id, grant);
    }
    this.#grants.set(grant.id, grant);
    this.#byContinue.set(grant.continueId, grant);
    return grant;
  }

  /** A pending grant whose interaction outlived its TTL becomes `expired` when next looked at. */
  #settleExpiry(grant: Grant): Grant {
    const i = grant.interaction;
    if (grant.state === 'pending' && i && this.now().getTime() - i.createdAt.getTime() > this.interactionTtlMs) grant.state = 'expired';
    return grant;
  }

  interactionExpiresAt(grant: Grant): Date | undefined {
    const i = grant.interaction;
    return i ? new Date(i.createdAt.getTime() + this.interactionTtlMs) : undefined;
  }

  byInteraction(id: string, nonce: string): Grant | undefined {
    const grant = this.#byInteraction.get(id);
    if (!grant || grant.interaction?.nonce !== nonce) return undefined;
    return this.#settleExpiry(grant);
  }

  /** The person's answer on the consent page. Only a pending, unexpired grant takes one. */
  decide(grant: Grant, approve: boolean): 'ok' | 'not-pending' {
    this.#settleExpiry(grant);
    if (grant.state !== 'pending' || !grant.interaction) return 'not-pending';
    if (approve) {
      grant.state = 'approved';
      grant.interaction.ref = randomUUID();
    } else {
      grant.state = 'rejected';
    }
    return 'ok';
  }

  byContinue(continueId: string): Grant | undefined {
    const grant = this.#byContinue.get(continueId);
    return grant && this.#settleExpiry(grant);
  }

  /** Why a grant that is no longer waiting for consent cannot be continued. */
  settledRefusal(grant: Grant): GrantRefusal {
    if (grant.state === 'rejected') return { code: 'request_denied', status: 401, description: 'the person rejected this grant' };
    if (grant.state === 'revoked') return { code: 'request_denied', status: 401, description: 'the grant was revoked' };
    if (grant.state === 'expired') return { code: 'request_denied', status: 401, description: 'the interaction expired before consent' };
    return { code: 'invalid_continuation', status: 401, description: 'the grant was already continued' };
  }

  /** A continuation with an interact_ref: the one that exchanges consent for an access token. */
  continueWith(grant: Grant, interactRef: string): AccessToken | GrantRefusal {
    this.#settleExpiry(grant);
    if (grant.state === 'rejected' || grant.state === 'revoked' || grant.state === 'expired') return this.settledRefusal(grant);
    if (!grant.interaction || grant.interaction.ref === undefined || grant.interaction.ref !== interactRef)
      return { code: 'invalid_continuation', status: 401, description: 'unknown interact_ref' };
    if (grant.state === 'granted') return { code: 'invalid_continuation', status: 401, description: 'this interact_ref was already used' };
    if (grant.state !== 'approved') return { code: 'invalid_continuation', status: 401, description: 'the grant awaits consent' };
    grant.state = 'granted';
    return this.issueToken(grant);
  }

  issueToken(grant: Grant): AccessToken {
    const t: AccessToken = { value: token(), manageId: randomUUID(), grantId: grant.id, issuedAt: this.now(), revoked: false };
    this.#tokens.set(t.value, t);
    this.#byManage.set(t.manageId, t);
    return t;
  }

  revoke(grant: Grant): void {
    grant.state = 'revoked';
    for (const t of this.#tokens.values()) if (t.grantId === grant.id) t.revoked = true;
  }

  grantOf(t: AccessToken): Grant {
    return this.#grants.get(t.grantId)!;
  }

  /** The token behind a management URL, if `value` is its current value (rotation and revocation need both). */
  managed(manageId: string, value: string): AccessToken | undefined {
    const t = this.#byManage.get(manageId);
    return t && !t.revoked && t.value === value ? t : undefined;
  }

  rotate(old: AccessToken): AccessToken {
    old.revoked = true;
    return this.issueToken(this.grantOf(old));
  }

  revokeToken(t: AccessToken): void {
    t.revoked = true;
  }

  /** A live token for the resource server: known, not revoked or expired, its grant still granted. */
  active(value: string): { token: AccessToken; grant: Grant } | undefined {
    const t = this.#tokens.get(value);
    if (!t || t.revoked) return undefined;
    if (this.now().getTime() >= t.issuedAt.getTime() + this.tokenTtlSeconds * 1000) return undefined;
    const grant = this.grantOf(t);
    if (grant.state !== 'granted') return undefined;
    return { token: t, grant };
  }
}
