/**
 * The auth server (GNAP as Open Payments profiles it) under `<origin>/auth`: grant requests,
 * continuation, cancellation, token rotation and revocation, and the consent pages of interactive
 * grants. Every JSON request is signed and verified against the client's wallet address keys.
 */
import type { Context } from './context.js';
import { closedPage, consentPage, formatAmount } from './consent-page.js';
import { type AccessItem, type AccessToken, type Amount, finishHash, type Grant, type GrantRefusal } from './grants.js';
import { errorBody, type Incoming, type Outgoing, type Route } from './http.js';
import { parseInterval } from './interval.js';
import { UINT64_MAX } from './payments.js';
import { verifyRequestSignature } from './signatures.js';
import type { ClientJwk } from './types.js';

interface AmountWire {
  value: string;
  assetCode: string;
  assetScale: number;
}
interface AccessWire {
  type: AccessItem['type'];
  actions: AccessItem['actions'];
  identifier?: string;
  limits?: { receiver?: string; interval?: string; debitAmount?: AmountWire; receiveAmount?: AmountWire };
}
interface GrantRequestWire {
  client: string | { walletAddress: string } | { jwk: ClientJwk };
  access_token?: { access: AccessWire[] };
  interact?: { start: string[]; finish?: { method: 'redirect'; uri: string; nonce: string } };
  subject?: unknown;
}

const fail = (status: number, code: string, description: string): Outgoing => ({ status, json: errorBody(code, description) });
const refusal = (r: GrantRefusal): Outgoing => fail(r.status, r.code, r.description);

/** The token in `Authorization: GNAP <token>`, or undefined. */
export function gnapToken(req: Incoming): string | undefined {
  const m = /^GNAP (\S+)$/.exec(String(req.headers.authorization ?? ''));
  return m?.[1];
}

function amountToWire(a: Amount): AmountWire {
  return { value: a.value.toString(), assetCode: a.assetCode, assetScale: a.assetScale };
}

export function accessToWire(items: AccessItem[]): AccessWire[] {
  return items.map((a) => {
    const out: AccessWire = { type: a.type, actions: a.actions };
    if (a.identifier !== undefined) out.identifier = a.identifier;
    if (a.limits) {
      const l = a.limits;
      out.limits = {
        ...(l.receiver !== undefined ? { receiver: l.receiver } : {}),
        ...(l.interval !== undefined ? { interval: l.interval } : {}),
        ...(l.debitAmount ? { debitAmount: amountToWire(l.debitAmount) } : {}),
        ...(l.receiveAmount ? { receiveAmount: amountToWire(l.receiveAmount) } : {}),
      };
    }
    return out;
  });
}

function parseAmount(a: AmountWire): Amount | undefined {
  const value = BigInt(a.value); // the spec validator admitted it as a uint64 string
  return value > 0n && value <= UINT64_MAX ? { value, assetCode: a.assetCode, assetScale: a.assetScale } : undefined;
}

export function authRoutes(ctx: Context): Route[] {
  const { grants, wallets } = ctx;
  const tokenWire = (t: AccessToken, grant: Grant) => ({
    value: t.value,
    manage: `${ctx.authServer}/token/${t.manageId}`,
    expires_in: grants.tokenLifetimeSeconds,
    access: accessToWire(grant.access),
  });
  const continueWire = (grant: Grant) => ({
    access_token: { value: grant.continueToken },
    uri: `${ctx.authServer}/continue/${grant.continueId}`,
  });
  const signer = (grant: Grant) => (grant.clientJwk ? { jwk: grant.clientJwk } : { client: grant.client! });
  const interactionUrl = (grant: Grant) => `${ctx.authServer}/interact/${grant.interaction!.id}/${grant.interaction!.nonce}`;

  /** The access a grant may carry, or why not: identifiers here, amounts in the wallet's asset, a usable interval. */
  const parseAccess = (items: AccessWire[]): AccessItem[] | string => {
    const out: AccessItem[] = [];
    for (const a of items) {
      const item: AccessItem = { type: a.type, actions: [...a.actions] };
      if (a.identifier !== undefined) item.identifier = a.identifier.replace(/\/$/, '');
      if (a.type === 'outgoing-payment') {
        const wallet = wallets.get(item.identifier ?? '');
        if (!wallet) return `outgoing-payment identifier ${a.identifier} is not a wallet address of this provider`;
        const l = a.limits ?? {};
        if (l.debitAmount && l.receiveAmount) return 'limits may have debitAmount or receiveAmount, not both';
        item.limits = {};
        if (l.receiver !== undefined) item.limits.receiver = l.receiver;
        if (l.interval !== undefined) {
          if (!parseInterval(l.interval)) return `interval ${l.interval} is not an R[n]/<start>/<duration> repeating interval`;
          item.limits.interval = l.interval;
        }
        if (l.debitAmount) {
          const d = parseAmount(l.debitAmount);
          if (!d) return 'limits.debitAmount must be above 0 and fit in 64 bits';
          if (d.assetCode !== wallet.assetCode || d.assetScale !== wallet.assetScale)
            return `limits.debitAmount must be in the wallet's asset, ${wallet.assetCode} at scale ${wallet.assetScale}`;
          item.limits.debitAmount = d;
        }
        if (l.receiveAmount) {
          const r = parseAmount(l.receiveAmount);
          if (!r) return 'limits.receiveAmount must be above 0 and fit in 64 bits';
          item.limits.receiveAmount = r;
        }
      }
      out.push(item);
    }
    return out;
  };

  const requestGrant = async (req: Incoming): Promise<Outgoing> => {
    const body = req.body as GrantRequestWire;
    const client = typeof body.client === 'string' ? body.client : 'walletAddress' in body.client ? body.client.walletAddress : undefined;
    const clientJwk = typeof body.client === 'object' && 'jwk' in body.client ? body.client.jwk : undefined;
    const sig = await verifyRequestSignature(req, clientJwk ? { jwk: clientJwk } : { client: client! }, ctx.lookupKey);
    if (!sig.ok) return fail(401, 'invalid_client', sig.description);
    if (!body.access_token) return fail(400, 'invalid_request', 'this auth server grants access tokens only (no subject information)');
    const access = parseAccess(body.access_token.access);
    if (typeof access === 'string') return fail(400, 'invalid_request', access);
    const interactive = access.some((a) => a.type === 'outgoing-payment');
    if (!interactive) {
      const grant = grants.create({ client, clientJwk, access });
      return { status: 200, json: { access_token: tokenWire(grants.issueToken(grant), grant), continue: continueWire(grant) } };
    }
    if (clientJwk) return fail(400, 'invalid_request', 'a client identified only by a key cannot ask for interactive grants');
    const finish = body.interact?.finish;
    if (!body.interact?.start.includes('redirect') || !finish)
      return fail(400, 'invalid_request', 'outgoing-payment grants need interact.start ["redirect"] and a redirect finish');
    // The browser is sent there after consent: only a web address, never javascript: or data:.
    if (!/^https?:$/.test(new URL(finish.uri).protocol)) return fail(400, 'invalid_request', 'interact.finish.uri must be an http(s) URL');
    const grant = grants.create({ client, access, interact: { clientNonce: finish.nonce, finishUri: finish.uri } });
    return {
      status: 200,
      json: { interact: { redirect: interactionUrl(grant), finish: grant.interaction!.nonce }, continue: continueWire(grant) },
    };
  };

  /** The grant of a continuation URL, if the request carries its continuation token and the client's signature. */
  const continuation = async (req: Incoming): Promise<Grant | Outgoing> => {
    const grant = grants.byContinue(req.params.id!);
    // The spec's 404 for an unknown continuation: invalid_continuation on POST, invalid_request on DELETE.
    if (!grant) return fail(404, req.method === 'DELETE' ? 'invalid_request' : 'invalid_continuation', 'unknown continuation');
    if (gnapToken(req) !== grant.continueToken) return fail(401, 'invalid_continuation', 'wrong or missing continuation token');
    const sig = await verifyRequestSignature(req, signer(grant), ctx.lookupKey);
    if (!sig.ok) return fail(401, 'invalid_client', sig.description);
    return grant;
  };

  const continueGrant = async (req: Incoming): Promise<Outgoing> => {
    const grant = await continuation(req);
    if (!('id' in grant)) return grant;
    const ref = (req.body as { interact_ref?: string } | undefined)?.interact_ref;
    if (ref === undefined) {
      // Polling: still waiting for the person, or already settled one way or the other.
      if (grant.state === 'pending' || grant.state === 'approved')
        return { status: 200, json: { continue: { ...continueWire(grant), wait: 5 } } };
      return refusal(grants.settledRefusal(grant));
    }
    const issued = grants.continueWith(grant, ref);
    if ('code' in issued) return refusal(issued);
    return { status: 200, json: { access_token: tokenWire(issued, grant), continue: continueWire(grant) } };
  };

  const cancelGrant = async (req: Incoming): Promise<Outgoing> => {
    const grant = await continuation(req);
    if (!('id' in grant)) return grant;
    grants.revoke(grant);
    return { status: 204 };
  };

  /** The token behind a management URL, if the request presents it and the grant's client signed. */
  const managed = async (req: Incoming, unknown: Outgoing): Promise<{ token: AccessToken; grant: Grant } | Outgoing> => {
    const token = grants.managed(req.params.id!, gnapToken(req) ?? '');
    if (!token) return unknown;
    const grant = grants.grantOf(token);
    if (grant.state !== 'granted') return fail(401, 'invalid_client', 'the grant was revoked');
    const sig = await verifyRequestSignature(req, signer(grant), ctx.lookupKey);
    if (!sig.ok) return fail(401, 'invalid_client', sig.description);
    return { token, grant };
  };

  const rotate = async (req: Incoming): Promise<Outgoing> => {
    const m = await managed(req, fail(404, 'invalid_rotation', 'no such token, or it was rotated or revoked'));
    if (!('token' in m)) return m;
    const next = grants.rotate(m.token);
    return { status: 200, json: { access_token: tokenWire(next, m.grant) } };
  };

  const revokeToken = async (req: Incoming): Promise<Outgoing> => {
    const m = await managed(req, fail(401, 'invalid_client', 'no such token, or it was rotated or revoked'));
    if (!('token' in m)) return m;
    grants.revokeToken(m.token);
    return { status: 204 };
  };

  const clientName = async (client: string): Promise<string | undefined> => {
    const local = wallets.get(client);
    if (local) return local.publicName;
    try {
      const res = await fetch(client, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(2_000) });
      const doc = (await res.json()) as { publicName?: unknown };
      return typeof doc.publicName === 'string' ? doc.publicName : undefined;
    } catch {
      return undefined;
    }
  };

  const interactionGrant = (req: Incoming): Grant | Outgoing => {
    const grant = grants.byInteraction(req.params.id!, req.params.nonce!);
    if (!grant) return { status: 404, html: closedPage('Unknown request', 'There is no payment request at this address.') };
    if (grant.state === 'expired')
      return { status: 410, html: closedPage('Request expired', 'This payment request expired before it was approved. Nothing was paid.') };
    if (grant.state !== 'pending')
      return { status: 409, html: closedPage('Already answered', 'This payment request was already approved or rejected.') };
    return grant;
  };

  const showConsent = async (req: Incoming): Promise<Outgoing> => {
    const grant = interactionGrant(req);
    if (!('id' in grant)) return grant;
    const item = grant.access.find((a) => a.type === 'outgoing-payment')!;
    const payer = wallets.require(item.identifier!);
    const limits = item.limits ?? {};
    const receiver = limits.receiver ? ctx.payments.incoming(limits.receiver) : undefined;
    const limit = limits.debitAmount ?? limits.receiveAmount;
    const window = limits.interval ? parseInterval(limits.interval)?.windowAt(ctx.now()) : undefined;
    const base = interactionUrl(grant);
    return {
      status: 200,
      html: consentPage({
        approveAction: `${base}/approve`,
        rejectAction: `${base}/reject`,
        client: grant.client!,
        clientName: await clientName(grant.client!),
        payerName: payer.publicName ?? payer.name,
        payerUrl: payer.url,
        payee: receiver ? { name: receiver.wallet.publicName ?? receiver.wallet.name, url: receiver.wallet.url } : undefined,
        amount: limit && {
          text: formatAmount(limit.value, limit.assetCode, limit.assetScale),
          kind: limits.debitAmount ? 'debit' : 'receive',
        },
        renews: limits.interval
          ? `per period of ${limits.interval.split('/')[2]} (this one ${window ? `ends ${window.end.toISOString()}` : 'has not started'})`
          : undefined,
        expiresAt: grants.interactionExpiresAt(grant)!,
      }),
    };
  };

  const decide =
    (approve: boolean) =>
    (req: Incoming): Outgoing => {
      const grant = interactionGrant(req);
      if (!('id' in grant)) return grant;
      if (grants.decide(grant, approve) !== 'ok')
        return { status: 409, html: closedPage('Already answered', 'This payment request was already approved or rejected.') };
      const i = grant.interaction!;
      const back = new URL(i.finishUri);
      if (approve) {
        back.searchParams.set('hash', finishHash(i.clientNonce, i.nonce, i.ref!, ctx.authServer));
        back.searchParams.set('interact_ref', i.ref!);
      } else {
        back.searchParams.set('result', 'grant_rejected');
      }
      // 303: the browser follows a form post's answer with a GET, as the client's finish URI expects.
      return { status: 303, redirect: back.href };
    };

  const id = '(?<id>[0-9a-f-]{36})';
  return [
    { method: 'POST', pattern: /^\/auth\/?$/, op: { spec: 'auth', path: '/', method: 'post' }, signed: 'always', handle: requestGrant },
    {
      method: 'POST',
      pattern: new RegExp(`^/auth/continue/${id}$`),
      op: { spec: 'auth', path: '/continue/{id}', method: 'post' },
      signed: 'always',
      handle: continueGrant,
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/auth/continue/${id}$`),
      op: { spec: 'auth', path: '/continue/{id}', method: 'delete' },
      signed: 'always',
      handle: cancelGrant,
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/auth/token/${id}$`),
      op: { spec: 'auth', path: '/token/{id}', method: 'post' },
      signed: 'always',
      handle: rotate,
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/auth/token/${id}$`),
      op: { spec: 'auth', path: '/token/{id}', method: 'delete' },
      signed: 'always',
      handle: revokeToken,
    },
    { method: 'GET', pattern: new RegExp(`^/auth/interact/${id}/(?<nonce>[0-9a-f-]{36})$`), handle: showConsent },
    { method: 'POST', pattern: new RegExp(`^/auth/interact/${id}/(?<nonce>[0-9a-f-]{36})/approve$`), handle: decide(true) },
    { method: 'POST', pattern: new RegExp(`^/auth/interact/${id}/(?<nonce>[0-9a-f-]{36})/reject$`), handle: decide(false) },
  ];
}
