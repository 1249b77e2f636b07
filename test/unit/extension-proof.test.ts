import { describe, expect, it } from 'vitest';
import { parsePaymentSignature } from '../../shared/challenge.js';
import {
  createProofRetry,
  exactUrlCondition,
  PROOF_RULE_TTL_MS,
  proofHeader,
  type DnrApi,
  type DnrRule,
} from '../../extension/background/proof.js';
import { KEYS } from '../../extension/common/state.js';
import { request, tollwayOption } from '../helpers/extension-fixtures.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const completed = (over: Parameters<typeof request>[0] = {}) =>
  request({
    status: 'completed',
    payment: {
      rail: 'internal',
      payTo: 'm_shop',
      amount: '1500',
      asset: 'SOVR',
      resource: { url: 'https://shop.example/a', method: 'GET' },
      requirement: tollwayOption(),
    },
    result: {
      transactionId: 'pay_1',
      status: 'completed',
      rail: 'internal',
      payTo: 'm_shop',
      amount: '1500',
      asset: 'SOVR',
      resource: { url: 'https://shop.example/a', method: 'GET' },
      description: null,
      failureReason: null,
      receipt: { token: 'eyJ.receipt.sig' },
      createdAt: 'x',
      updatedAt: 'x',
    },
    ...over,
  });

class FakeDnr implements DnrApi {
  rules: DnrRule[] = [];
  async updateSessionRules(o: { addRules?: DnrRule[]; removeRuleIds?: number[] }) {
    this.rules = this.rules.filter((r) => !o.removeRuleIds?.includes(r.id));
    for (const r of o.addRules ?? []) {
      if (this.rules.some((x) => x.id === r.id)) throw new Error('duplicate id');
      this.rules.push(r);
    }
  }
  async getSessionRules() {
    return this.rules;
  }
}

function setup() {
  const dnr = new FakeDnr();
  const session = new MemoryStorage();
  const reloads: number[] = [];
  const tabs = new Map<number, string>([
    [1, 'https://shop.example/a'],
    [3, 'https://shop.example/a'],
    [4, 'https://shop.example/b#x'],
  ]);
  let t = 1_000;
  const proof = createProofRetry({
    dnr,
    session,
    reload: async (id) => void reloads.push(id),
    tabUrl: async (id) => tabs.get(id),
    now: () => t,
  });
  return { dnr, session, reloads, tabs, proof, advance: (ms: number) => void (t += ms) };
}

describe('proof of payment on retry', () => {
  it('encodes PAYMENT-SIGNATURE as x402 v2 with the approved option and the receipt', () => {
    const h = proofHeader(completed())!;
    expect(h.header).toBe('PAYMENT-SIGNATURE');
    const back = parsePaymentSignature(h.value);
    expect(back).toEqual({
      ok: true,
      value: {
        x402Version: 2,
        resource: { url: 'https://shop.example/a', description: 'Article' },
        accepted: tollwayOption(),
        payload: { receipt: 'eyJ.receipt.sig' },
      },
    });
    expect(proofHeader(completed({ status: 'failed' }))).toBeNull();
    expect(proofHeader(completed({ result: null }))).toBeNull();
  });

  it('matches exactly one URL, escaping urlFilter wildcards', () => {
    expect(exactUrlCondition('https://shop.example/a?b=1')).toEqual({ urlFilter: '|https://shop.example/a?b=1|' });
    const c = exactUrlCondition('https://shop.example/a*b^c|d.e');
    expect(c).toEqual({ regexFilter: '^https://shop\\.example/a\\*b\\^c\\|d\\.e$' });
    const re = new RegExp((c as { regexFilter: string }).regexFilter);
    expect(re.test('https://shop.example/a*b^c|d.e')).toBe(true);
    expect(re.test('https://shop.example/aXXb^c|dxe')).toBe(false);
  });

  it('adds a session rule for that tab and URL, reloads, and removes the rule once the reload answered', async () => {
    const s = setup();
    expect(await s.proof.retry(completed({ url: 'https://shop.example/a#frag' }))).toBe(true);
    expect(s.reloads).toEqual([1]);
    expect(s.dnr.rules).toHaveLength(1);
    expect(s.dnr.rules[0]).toMatchObject({
      id: 1,
      action: { type: 'modifyHeaders', requestHeaders: [{ header: 'PAYMENT-SIGNATURE', operation: 'set' }] },
      condition: { urlFilter: '|https://shop.example/a|', resourceTypes: ['main_frame'], tabIds: [1] },
    });
    expect(await s.proof.waiting(1, 'https://shop.example/a')).toBe(true);
    await s.proof.used(2, 'https://shop.example/a'); // another tab: not this rule
    expect(s.dnr.rules).toHaveLength(1);
    await s.proof.used(1, 'https://shop.example/a');
    expect(s.dnr.rules).toEqual([]);
    expect(s.session.peek(KEYS.proofRules)).toEqual([]);
  });

  it('only retries completed GET page loads, in a tab still showing that URL', async () => {
    const s = setup();
    expect(await s.proof.retry(completed({ tabId: 2 }))).toBe(false); // closed
    s.tabs.set(1, 'https://elsewhere.example/');
    expect(await s.proof.retry(completed())).toBe(false); // moved on
    s.tabs.set(1, 'https://shop.example/a');
    expect(await s.proof.retry(completed({ frameType: 'xmlhttprequest' }))).toBe(false);
    expect(await s.proof.retry(completed({ method: 'POST' }))).toBe(false);
    expect(await s.proof.retry(completed({ status: 'submitted' }))).toBe(false);
    expect(s.reloads).toEqual([]);
    expect(s.dnr.rules).toEqual([]);
  });

  it('expires unused rules, drops those of closed tabs, and never reuses a taken id', async () => {
    const s = setup();
    s.dnr.rules.push({
      id: 1,
      priority: 1,
      action: { type: 'modifyHeaders', requestHeaders: [] },
      condition: { urlFilter: 'x', resourceTypes: ['main_frame'], tabIds: [9] },
    });
    await s.proof.retry(completed({ tabId: 3, url: 'https://shop.example/a' }));
    await s.proof.retry(completed({ tabId: 4, url: 'https://shop.example/b' }));
    expect(s.dnr.rules.map((r) => r.id)).toEqual([1, 2, 3]);
    await s.proof.sweep(4);
    expect(s.dnr.rules.map((r) => r.id)).toEqual([1, 2]);
    s.advance(PROOF_RULE_TTL_MS);
    await s.proof.sweep();
    // Rules it did not record are not its to remove.
    expect(s.dnr.rules.map((r) => r.id)).toEqual([1]);
  });
});
