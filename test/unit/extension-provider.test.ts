import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import type { CreatePaymentRequest, Payment } from '../../shared/api.js';
import { encodePaymentRequired, parsePaymentSignature } from '../../shared/challenge.js';
import { createApprovalWindow } from '../../extension/background/approval-window.js';
import { createApprovals } from '../../extension/background/approvals.js';
import type { HubClient, PayOutcome } from '../../extension/background/hub-client.js';
import { createProvider, registerProviderScripts, type RegisteredScript, type ScriptingApi } from '../../extension/background/provider.js';
import {
  CHANNEL,
  challengeFromParam,
  MAX_CHALLENGE_CHARS,
  PageResponse,
  ProviderMessage,
  ProviderReply,
  readPageRequest,
} from '../../extension/common/provider-messages.js';
import { KEYS, type HubSession } from '../../extension/common/state.js';
import { loadHubSession, readRequestList } from '../../extension/common/storage.js';
import { HUB, tollwayOption } from '../helpers/extension-fixtures.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { FakeWindows } from '../helpers/fake-windows.js';

const self = { name: 'this window' };
const other = { name: 'another frame' };
const header = encodePaymentRequired({ resource: { url: 'https://shop.example/a', description: 'Article' }, accepts: [tollwayOption()] });
const doc = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Record<string, unknown>;
const ok = (over: Record<string, unknown> = {}, params: Record<string, unknown> = { challenge: header }) => ({
  channel: CHANNEL,
  dir: 'request',
  id: 'abcdef0123456789',
  method: 'pay',
  params,
  ...over,
});

describe('bridge: messages from the page', () => {
  it('accepts a well-formed request this window posted to itself', () => {
    expect(readPageRequest({ source: self, data: ok() }, self)).toMatchObject({ id: 'abcdef0123456789', params: { challenge: header } });
    expect(
      readPageRequest({ source: self, data: ok({}, { challenge: doc, request: { url: 'https://shop.example/a', method: 'POST' } }) }, self),
    ).not.toBeNull();
  });

  it('ignores messages from another window or frame, and sourceless ones', () => {
    expect(readPageRequest({ source: other, data: ok() }, self)).toBeNull();
    expect(readPageRequest({ source: null, data: ok() }, null)).toBeNull();
    expect(readPageRequest({ source: undefined, data: ok() }, self)).toBeNull();
  });

  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['another channel', ok({ channel: 'metamask' })],
    ['its own response echoed back', ok({ dir: 'response' })],
    ['no id', ok({ id: undefined })],
    ['an id too short', ok({ id: 'x' })],
    ['an id with odd characters', ok({ id: '../../etc/passwd!' })],
    ['an unknown method', ok({ method: 'signIn' })],
    ['an extra field', ok({ token: 'steal me' })],
    ['extra params', ok({}, { challenge: header, hubUrl: 'https://evil.example' })],
    ['no challenge', ok({}, {})],
    ['an empty challenge', ok({}, { challenge: '' })],
    ['a number as challenge', ok({}, { challenge: 42 })],
    ['an array as challenge', ok({}, { challenge: [header] })],
    ['a huge challenge', ok({}, { challenge: 'A'.repeat(MAX_CHALLENGE_CHARS + 1) })],
    ['a huge object challenge', ok({}, { challenge: { pad: 'x'.repeat(MAX_CHALLENGE_CHARS) } })],
    ['a javascript: URL', ok({}, { challenge: header, request: { url: 'javascript:alert(1)', method: 'GET' } })],
    ['a relative URL', ok({}, { challenge: header, request: { url: '/paid/x', method: 'GET' } })],
    ['a method with spaces', ok({}, { challenge: header, request: { url: 'https://shop.example/a', method: 'GET /x' } })],
  ])('rejects %s', (_name, data) => {
    expect(readPageRequest({ source: self, data }, self)).toBeNull();
  });

  it('reads the challenge as a base64 header or as its object, with the shared parser', () => {
    const a = challengeFromParam(header);
    const b = challengeFromParam(doc);
    expect(a.ok && a.challenge.x402?.accepts[0]?.payTo).toBe('m_shop');
    expect(b.ok && b.challenge.x402?.accepts[0]?.payTo).toBe('m_shop');
    expect(challengeFromParam('not base64 at all %%%')).toMatchObject({ ok: false });
    expect(challengeFromParam({ x402Version: 9, accepts: [] })).toMatchObject({ ok: false });
    expect(challengeFromParam({ hello: 'world' })).toMatchObject({ ok: false });
  });

  it('validates what the worker answers and what goes back to the page', () => {
    const result = { receipt: 'eyJ.r', transactionId: 'pay_1', proof: 'e30=' };
    expect(ProviderReply.safeParse({ ok: true, result }).success).toBe(true);
    expect(ProviderReply.safeParse({ ok: true, result: { ...result, accessToken: 'at_1' } }).success).toBe(false);
    expect(ProviderReply.safeParse({ ok: true }).success).toBe(false);
    expect(
      PageResponse.safeParse({ channel: CHANNEL, dir: 'response', id: 'abcdef0123456789', ok: false, error: 'rejected' }).success,
    ).toBe(true);
    expect(ProviderMessage.safeParse({ type: 'provider.pay', challenge: header }).success).toBe(true);
    expect(ProviderMessage.safeParse({ type: 'approval.decide', id: 'r1', approve: true }).success).toBe(false);
  });
});

class Hub implements HubClient {
  calls: CreatePaymentRequest[] = [];
  async pay(_s: HubSession, _key: string, body: CreatePaymentRequest): Promise<PayOutcome> {
    this.calls.push(body);
    const p: Payment = {
      transactionId: `pay_${this.calls.length}`,
      status: 'completed',
      rail: body.rail,
      payTo: body.payTo,
      amount: body.amount,
      asset: body.asset,
      resource: body.resource ? { url: body.resource.url, method: body.resource.method } : null,
      description: null,
      failureReason: null,
      receipt: { token: 'eyJ.receipt' },
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
    };
    return { kind: 'answered', payment: p };
  }
}

function setup(signedIn = true) {
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  if (signedIn) void session.set({ [KEYS.hub]: { url: HUB, accessToken: 'at_1' } });
  const windows = new FakeWindows();
  const hub = new Hub();
  let ids = 0;
  let provider: ReturnType<typeof createProvider>;
  const approvals = createApprovals({
    t: tEn,
    local,
    hub,
    session: () => loadHubSession(session),
    onFinished: (rs) => provider.finished(rs),
    window: createApprovalWindow({ windows, session, url: 'chrome-extension://x/extension/approve/index.html' }),
    setBadge: async () => undefined,
    newId: () => `id${++ids}`,
  });
  provider = createProvider({ session: () => loadHubSession(session), add: (s) => approvals.add(s) });
  const sender = { tabId: 3, origin: 'https://shop.example', url: 'https://shop.example/page' };
  return { approvals, provider, windows, hub, sender, local };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('provider in the worker', () => {
  it("collapses a fetch's 402 seen by webRequest and by the provider into one approval, and gives the page the receipt", async () => {
    const t = setup();
    const url = 'https://shop.example/paid/x';
    // webRequest saw the 402 first, then the page's provider asks for the same resource.
    const read = challengeFromParam(header);
    if (!read.ok) throw new Error(read.error);
    const observed = await t.approvals.add({
      site: 'https://shop.example',
      tabId: 3,
      frameType: 'xmlhttprequest',
      method: 'GET',
      url,
      challenge: read.challenge,
    });
    const paid = t.provider.pay({ type: 'provider.pay', challenge: header, request: { url, method: 'get' } }, t.sender);
    await flush();
    expect(t.windows.created).toBe(1);
    await t.approvals.decide(observed.id, true);
    const result = await paid;
    expect(result).toMatchObject({ receipt: 'eyJ.receipt', transactionId: 'pay_1' });
    const proof = parsePaymentSignature(result.proof);
    expect(proof.ok && proof.value.payload).toEqual({ receipt: 'eyJ.receipt' });
    expect(t.hub.calls).toHaveLength(1);
    expect(t.hub.calls[0]!.resource).toEqual({ url, method: 'GET' });
  });

  it('pays a challenge for its resource URL, and rejects when the person rejects', async () => {
    const t = setup();
    const paid = t.provider.pay({ type: 'provider.pay', challenge: doc }, t.sender);
    const caught = paid.catch((e: Error) => e);
    await flush();
    await t.approvals.rejectAll();
    const e = await caught;
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/rejected/);
    expect(t.hub.calls).toHaveLength(0);
  });

  it('names the site from the browser (the sender’s origin and tab), never from what the page passed', async () => {
    const t = setup();
    // The page names another site's resource, in its request and in the challenge.
    const elsewhere = { ...doc, resource: { url: 'https://bank.example/transfer', description: 'Rent' } };
    void t.provider
      .pay(
        { type: 'provider.pay', challenge: elsewhere, request: { url: 'https://bank.example/transfer', method: 'post' } },
        { ...t.sender, tabOrigin: 'https://news.example' },
      )
      .catch(() => undefined);
    await flush();
    const [stored] = readRequestList(t.local.peek(KEYS.approvals)).requests;
    expect(stored).toMatchObject({
      site: 'https://shop.example',
      tabOrigin: 'https://news.example',
      url: 'https://bank.example/transfer',
      payee: 'm_shop',
    });
    await t.approvals.rejectAll();
  });

  it('refuses at once when locked or signed out, and refuses garbage', async () => {
    await expect(setup(false).provider.pay({ type: 'provider.pay', challenge: header }, setup(false).sender)).rejects.toThrow(
      /locked or signed out/,
    );
    const t = setup();
    await expect(t.provider.pay({ type: 'provider.pay', challenge: 'garbage!' }, t.sender)).rejects.toThrow(/not a payment challenge/);
    expect(t.windows.created).toBe(0);
  });

  it('registers the MAIN-world provider and the bridge once, and updates them on a later start', async () => {
    const registered = new Map<string, RegisteredScript>();
    const calls: string[] = [];
    const scripting: ScriptingApi = {
      getRegisteredContentScripts: async ({ ids }) => ids.filter((id) => registered.has(id)).map((id) => ({ id })),
      registerContentScripts: async (s) => {
        for (const x of s) calls.push(`register ${x.id}`), registered.set(x.id, x);
      },
      updateContentScripts: async (s) => {
        for (const x of s) calls.push(`update ${x.id}`), registered.set(x.id, x);
      },
      unregisterContentScripts: async ({ ids }) => {
        for (const id of ids) calls.push(`unregister ${id}`), registered.delete(id);
      },
    };
    const files = { provider: 'extension/provider/inpage.iife.js', bridge: 'extension/content/bridge.iife.js' };
    await registerProviderScripts(scripting, files);
    await registerProviderScripts(scripting, files);
    expect(calls).toEqual(['register tollway-bridge', 'register tollway-provider', 'update tollway-bridge', 'update tollway-provider']);
    expect(registered.get('tollway-provider')).toMatchObject({
      world: 'MAIN',
      runAt: 'document_start',
      matches: ['<all_urls>'],
      js: [files.provider],
    });
    expect(registered.get('tollway-bridge')).toMatchObject({ world: 'ISOLATED', js: [files.bridge] });
    // Host access narrowed to chosen sites: the scripts follow; none left: they go.
    await registerProviderScripts(scripting, files, ['https://shop.example/*']);
    expect(registered.get('tollway-provider')!.matches).toEqual(['https://shop.example/*']);
    expect(registered.get('tollway-bridge')!.matches).toEqual(['https://shop.example/*']);
    calls.length = 0;
    await registerProviderScripts(scripting, files, []);
    expect(calls).toEqual(['unregister tollway-bridge', 'unregister tollway-provider']);
    expect(registered.size).toBe(0);
    await registerProviderScripts(scripting, files, []);
    expect(calls).toHaveLength(2);
  });
});
