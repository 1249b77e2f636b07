/**
 * The example consumer in docs/examples/consume-events.ts works as docs/operations.md says: it
 * prints the hub's events as they arrive, and, started again under the same name, goes on where
 * it stopped instead of reading the stream from the start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStream, NATS_URL, uniqueEvents, unpublished, until } from '../helpers/broker.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

type P = { transactionId: string };

function consumer(env: Record<string, string>): { proc: ChildProcess; output(): string; stop(): Promise<void> } {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'docs/examples/consume-events.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return {
    proc,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGINT');
      }),
  };
}

describe('the example consumer', () => {
  const events = uniqueEvents();
  const env = {
    NATS_URL,
    TOLLWAY_EVENTS_STREAM: events.stream,
    TOLLWAY_EVENTS_SUBJECT_PREFIX: events.prefix,
    CONSUMER: 'example-test',
  };
  let t: TestHub;
  let s: Session;
  let shop: string;
  const buy = async (key: string) =>
    ((await (await pay(t.url, s, key, { rail: 'internal', payTo: shop, amount: '7', asset: 'SOVR' })).json()) as P).transactionId;

  beforeAll(async () => {
    t = await startTestHub('sqlite', { env: events.env });
    s = await signIn(t.url);
    shop = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '1000');
  });
  afterAll(async () => {
    await t?.stop();
    await deleteStream(NATS_URL, events.stream);
  });

  it('prints each event once and resumes where it stopped', { timeout: 120_000 }, async () => {
    const first = await buy('c1');
    await until(async () => (await unpublished(t.store.db)) === 0, 'the first event published');
    const a = consumer(env);
    try {
      await until(() => a.output().includes(first), 'the consumer to print the first payment', 60_000);
    } finally {
      await a.stop();
    }
    expect(a.output()).toMatch(new RegExp(`payment\\.completed ${first} 7 SOVR`));

    const second = await buy('c2');
    await until(async () => (await unpublished(t.store.db)) === 0, 'the second event published');
    const b = consumer(env);
    try {
      await until(() => b.output().includes(second), 'the restarted consumer to print the second payment', 60_000);
    } finally {
      await b.stop();
    }
    expect(b.output()).not.toContain(first);
    await expectLedgerBalanced(t.store.db);
  });
});
