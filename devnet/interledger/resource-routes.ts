/**
 * The resource server at the origin: incoming payments, quotes and outgoing payments, each call
 * authorised by a GNAP access token of the auth server here and signed by the token's client.
 * Refusals: 401 for a missing, unknown or expired token or a bad signature; 403 for access the
 * token's grant does not give, an exhausted grant limit (`insufficient_grant`) or balance
 * (`insufficient_balance`); 400 for a request the spec admits but this wallet cannot serve.
 */
import { gnapToken } from './auth-routes.js';
import type { Context } from './context.js';
import type { AccessAction, AccessItem, Grant } from './grants.js';
import { errorBody, type Incoming, type Outgoing, type Route } from './http.js';
import { parseInterval } from './interval.js';
import { type AmountIn, type IncomingPayment, isRefusal, type OutgoingPayment, type Quote, type Refusal } from './payments.js';
import { verifyRequestSignature } from './signatures.js';
import type { Wallet } from './wallets.js';

const fail = (status: number, code: string, description: string, headers?: Record<string, string>): Outgoing => ({
  status,
  json: errorBody(code, description),
  ...(headers ? { headers } : {}),
});
const refused = (r: Refusal): Outgoing => fail(r.status, r.code, r.description);

const amount = (value: bigint, w: Wallet) => ({ value: value.toString(), assetCode: w.assetCode, assetScale: w.assetScale });

interface Authorised {
  grant: Grant;
  /** The client as resources record it: its wallet address, or its key id for a directed-identity client. */
  client: string;
}

export function resourceRoutes(ctx: Context): Route[] {
  const { grants, payments, wallets } = ctx;

  const incomingWire = (ip: IncomingPayment, withMethods: boolean) => ({
    id: ip.id,
    walletAddress: ip.wallet.url,
    completed: ip.completed,
    ...(ip.incomingAmount !== undefined ? { incomingAmount: amount(ip.incomingAmount, ip.wallet) } : {}),
    receivedAmount: amount(ip.received, ip.wallet),
    ...(ip.expiresAt ? { expiresAt: ip.expiresAt.toISOString() } : {}),
    ...(ip.metadata ? { metadata: ip.metadata } : {}),
    createdAt: ip.createdAt.toISOString(),
    // Payment details only while the incoming payment can still be paid, as Rafiki does.
    ...(withMethods
      ? { methods: ip.completed || payments.expired(ip) ? [] : [{ type: 'ilp', ilpAddress: ip.ilpAddress, sharedSecret: ip.sharedSecret }] }
      : {}),
  });
  const quoteWire = (q: Quote) => ({
    id: q.id,
    walletAddress: q.wallet.url,
    receiver: q.receiver.id,
    receiveAmount: amount(q.receive, q.receiver.wallet),
    debitAmount: amount(q.debit, q.wallet),
    method: 'ilp',
    expiresAt: q.expiresAt.toISOString(),
    createdAt: q.createdAt.toISOString(),
  });
  const outgoingWire = (p: OutgoingPayment, withSpent: boolean) => ({
    id: p.id,
    walletAddress: p.wallet.url,
    ...(p.quoteId ? { quoteId: p.quoteId } : {}),
    failed: p.failed,
    receiver: p.receiver.id,
    receiveAmount: amount(p.receive, p.receiver.wallet),
    debitAmount: amount(p.debit, p.wallet),
    sentAmount: amount(p.sent, p.wallet),
    ...(withSpent
      ? {
          grantSpentDebitAmount: amount(p.grantSpentDebit, p.wallet),
          grantSpentReceiveAmount: amount(p.grantSpentReceive, p.receiver.wallet),
        }
      : {}),
    ...(p.metadata ? { metadata: p.metadata } : {}),
    createdAt: p.createdAt.toISOString(),
  });

  /** A live token and its client's signature, or the 401 that refuses the request. */
  const authorise = async (req: Incoming): Promise<Authorised | Outgoing> => {
    const challenge = { 'www-authenticate': `GNAP as_uri=${ctx.authServer}` };
    const value = gnapToken(req);
    if (!value) return fail(401, 'invalid_token', 'an access token is required (Authorization: GNAP <token>)', challenge);
    const live = grants.active(value);
    if (!live) return fail(401, 'invalid_token', 'the access token is unknown, expired or revoked', challenge);
    const { grant } = live;
    const sig = await verifyRequestSignature(req, grant.clientJwk ? { jwk: grant.clientJwk } : { client: grant.client! }, ctx.lookupKey);
    if (!sig.ok) return fail(401, 'invalid_client', sig.description);
    return { grant, client: grant.client ?? `jwk:${grant.clientJwk!.kid}` };
  };

  /**
   * The grant's access item for `type`/`action` on `wallet`. `own` is true when the item reaches only
   * the client's own resources (`read`, `list`) rather than all of them (`read-all`, `list-all`).
   */
  const access = (grant: Grant, type: AccessItem['type'], action: AccessAction, wallet: Wallet): { own: boolean } | undefined => {
    const all = `${action}-all` as AccessAction;
    for (const item of grant.access) {
      if (item.type !== type || (item.identifier !== undefined && item.identifier !== wallet.url)) continue;
      if (item.actions.includes(all)) return { own: false };
      if (item.actions.includes(action)) return { own: true };
    }
    return undefined;
  };
  const denied = () => fail(403, 'insufficient_grant', 'the access token does not allow this');

  const wallet = (url: string): Wallet | Outgoing =>
    wallets.get(url) ?? fail(400, 'invalid_request', `${url} is not a wallet address here`);
  const isWallet = (w: Wallet | Outgoing): w is Wallet => 'assetCode' in w;

  const createIncoming = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const body = req.body as { walletAddress: string; incomingAmount?: AmountIn; expiresAt?: string; metadata?: Record<string, unknown> };
    const w = wallet(body.walletAddress);
    if (!isWallet(w)) return w;
    if (!access(auth.grant, 'incoming-payment', 'create', w)) return denied();
    const ip = payments.createIncoming(w, body, auth.client);
    return isRefusal(ip) ? refused(ip) : { status: 201, json: incomingWire(ip, true) };
  };

  const getIncoming = async (req: Incoming): Promise<Outgoing> => {
    const ip = payments.incoming(`${ctx.resourceServer}/incoming-payments/${req.params.id}`);
    if (!req.headers.authorization) {
      if (!ip) return fail(404, 'not_found', 'no such incoming payment');
      return { status: 200, json: { receivedAmount: amount(ip.received, ip.wallet), authServer: ctx.authServer } };
    }
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    if (!ip) return fail(404, 'not_found', 'no such incoming payment');
    const a = access(auth.grant, 'incoming-payment', 'read', ip.wallet);
    if (!a || (a.own && ip.client !== auth.client)) return denied();
    return { status: 200, json: incomingWire(ip, true) };
  };

  const completeIncoming = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const ip = payments.incoming(`${ctx.resourceServer}/incoming-payments/${req.params.id}`);
    if (!ip) return fail(404, 'not_found', 'no such incoming payment');
    if (!access(auth.grant, 'incoming-payment', 'complete', ip.wallet)) return denied();
    const done = payments.complete(ip);
    return isRefusal(done) ? refused(done) : { status: 200, json: incomingWire(done, false) };
  };

  /** `?wallet-address=` collections, oldest first, with cursor paging as the spec describes it. */
  const page = <T extends { id: string }>(items: T[], query: URLSearchParams) => {
    const cursor = query.get('cursor');
    const last = query.get('last');
    const size = Number(query.get('first') ?? last ?? 20);
    let from = 0;
    let to = items.length;
    const at = cursor ? items.findIndex((i) => i.id.endsWith(`/${cursor}`)) : -1;
    if (last && cursor) {
      to = Math.max(at, 0);
      from = Math.max(0, to - size);
    } else {
      from = at < 0 ? 0 : at + 1;
      to = Math.min(items.length, from + size);
    }
    const result = items.slice(from, to);
    const cursorOf = (i: T) => i.id.slice(i.id.lastIndexOf('/') + 1);
    return {
      result,
      pagination: {
        ...(result.length ? { startCursor: cursorOf(result[0]!), endCursor: cursorOf(result[result.length - 1]!) } : {}),
        hasPreviousPage: from > 0,
        hasNextPage: to < items.length,
      },
    };
  };

  const listIncoming = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const w = wallet(req.url.searchParams.get('wallet-address') ?? '');
    if (!isWallet(w)) return w;
    const a = access(auth.grant, 'incoming-payment', 'list', w);
    if (!a) return denied();
    const { result, pagination } = page(payments.incomingOf(w, a.own ? auth.client : undefined), req.url.searchParams);
    return { status: 200, json: { pagination, result: result.map((ip) => incomingWire(ip, false)) } };
  };

  const createQuote = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const body = req.body as { walletAddress: string; receiver: string; debitAmount?: AmountIn; receiveAmount?: AmountIn };
    const w = wallet(body.walletAddress);
    if (!isWallet(w)) return w;
    if (!access(auth.grant, 'quote', 'create', w)) return denied();
    const q = payments.createQuote(w, body.receiver, body, auth.client);
    return isRefusal(q) ? refused(q) : { status: 201, json: quoteWire(q) };
  };

  const getQuote = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const q = payments.quote(`${ctx.resourceServer}/quotes/${req.params.id}`);
    if (!q) return fail(404, 'not_found', 'no such quote');
    const a = access(auth.grant, 'quote', 'read', q.wallet);
    if (!a || (a.own && q.client !== auth.client)) return denied();
    return { status: 200, json: quoteWire(q) };
  };

  const createOutgoing = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const body = req.body as {
      walletAddress: string;
      quoteId?: string;
      incomingPayment?: string;
      debitAmount?: AmountIn;
      metadata?: Record<string, unknown>;
    };
    const w = wallet(body.walletAddress);
    if (!isWallet(w)) return w;
    if (!access(auth.grant, 'outgoing-payment', 'create', w)) return denied();
    const source =
      body.quoteId !== undefined ? { quoteId: body.quoteId } : { incomingPayment: body.incomingPayment!, debitAmount: body.debitAmount! };
    const p = payments.pay(auth.grant, w, source, body.metadata, auth.client);
    return isRefusal(p) ? refused(p) : { status: 201, json: outgoingWire(p, true) };
  };

  const getOutgoing = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const p = payments.outgoing(`${ctx.resourceServer}/outgoing-payments/${req.params.id}`);
    if (!p) return fail(404, 'not_found', 'no such outgoing payment');
    const a = access(auth.grant, 'outgoing-payment', 'read', p.wallet);
    if (!a || (a.own && p.client !== auth.client)) return denied();
    return { status: 200, json: outgoingWire(p, false) };
  };

  const listOutgoing = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const w = wallet(req.url.searchParams.get('wallet-address') ?? '');
    if (!isWallet(w)) return w;
    const a = access(auth.grant, 'outgoing-payment', 'list', w);
    if (!a) return denied();
    const { result, pagination } = page(payments.outgoingOf(w, a.own ? auth.client : undefined), req.url.searchParams);
    return { status: 200, json: { pagination, result: result.map((p) => outgoingWire(p, false)) } };
  };

  /** What the token's outgoing-payment grant has spent in its current interval. */
  const grantSpent = async (req: Incoming): Promise<Outgoing> => {
    const auth = await authorise(req);
    if (!('grant' in auth)) return auth;
    const item = auth.grant.access.find((a) => a.type === 'outgoing-payment');
    const payer = item?.identifier ? wallets.get(item.identifier) : undefined;
    if (!item || !payer) return denied();
    const window = item.limits?.interval ? parseInterval(item.limits.interval)?.windowAt(ctx.now()) : undefined;
    const from = window?.start ?? new Date(0);
    const spent = auth.grant.spent.filter((s) => s.at >= from);
    if (!spent.length) return { status: 200, json: { spentDebitAmount: null, spentReceiveAmount: null } };
    const sum = (k: 'debit' | 'receive') => spent.reduce((t, s) => t + s[k], 0n);
    return { status: 200, json: { spentDebitAmount: amount(sum('debit'), payer), spentReceiveAmount: amount(sum('receive'), payer) } };
  };

  const id = '(?<id>[0-9a-f-]{36})';
  const rs = (path: string, method: 'get' | 'post') => ({ spec: 'resource' as const, path, method });
  return [
    { method: 'POST', pattern: /^\/incoming-payments$/, op: rs('/incoming-payments', 'post'), signed: 'always', handle: createIncoming },
    { method: 'GET', pattern: /^\/incoming-payments$/, op: rs('/incoming-payments', 'get'), signed: 'always', handle: listIncoming },
    {
      method: 'GET',
      pattern: new RegExp(`^/incoming-payments/${id}$`),
      op: rs('/incoming-payments/{id}', 'get'),
      signed: 'with-token',
      handle: getIncoming,
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/incoming-payments/${id}/complete$`),
      op: rs('/incoming-payments/{id}/complete', 'post'),
      signed: 'always',
      handle: completeIncoming,
    },
    { method: 'POST', pattern: /^\/quotes$/, op: rs('/quotes', 'post'), signed: 'always', handle: createQuote },
    { method: 'GET', pattern: new RegExp(`^/quotes/${id}$`), op: rs('/quotes/{id}', 'get'), signed: 'always', handle: getQuote },
    { method: 'POST', pattern: /^\/outgoing-payments$/, op: rs('/outgoing-payments', 'post'), signed: 'always', handle: createOutgoing },
    { method: 'GET', pattern: /^\/outgoing-payments$/, op: rs('/outgoing-payments', 'get'), signed: 'always', handle: listOutgoing },
    {
      method: 'GET',
      pattern: new RegExp(`^/outgoing-payments/${id}$`),
      op: rs('/outgoing-payments/{id}', 'get'),
      signed: 'always',
      handle: getOutgoing,
    },
    {
      method: 'GET',
      pattern: /^\/outgoing-payment-grant$/,
      op: rs('/outgoing-payment-grant', 'get'),
      signed: 'always',
      handle: grantSpent,
    },
  ];
}
