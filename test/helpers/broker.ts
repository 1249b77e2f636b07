import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { expect } from 'vitest';
import { brokerMessage } from '../../server/notify/broker-message.js';
import { OUTBOX_COLUMNS, type OutboxRecord, toRecord } from '../../server/notify/outbox.js';
import type { Db } from '../../server/store/types.js';

export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A stream and subject prefix of this test's own: streams may not share subjects, and the 4222 server is shared. */
export function uniqueEvents(url = NATS_URL): { stream: string; prefix: string; env: Record<string, string> } {
  const tag = randomBytes(5).toString('hex');
  const stream = `TEST_${tag}`;
  const prefix = `t${tag}`;
  return {
    stream,
    prefix,
    env: { TOLLWAY_EVENTS_URL: url, TOLLWAY_EVENTS_STREAM: stream, TOLLWAY_EVENTS_SUBJECT_PREFIX: prefix },
  };
}

export interface Received {
  subject: string;
  msgId: string;
  /** The stream's sequence: the order the server stored it in. */
  streamSeq: number;
  body: { type: string; timestamp: string; data: Record<string, unknown> & { transactionId?: string; topupId?: string; status: string } };
}

/**
 * What a consumer of the stream receives: a durable pull consumer of its own, every message
 * acknowledged explicitly, as docs/examples/consume-events.ts does. Reads until `count` messages
 * came (or `ms` passed), then returns them in arrival order.
 */
export async function consumeAll(url: string, stream: string, count: number, ms = 20_000): Promise<Received[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const name = `reader_${randomBytes(4).toString('hex')}`;
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit });
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const out: Received[] = [];
    const deadline = Date.now() + ms;
    while (out.length < count && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: Math.min(500, count - out.length), expires: 1000 });
      for await (const m of batch) {
        out.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', streamSeq: m.seq, body: m.json() });
        m.ack();
      }
    }
    await jsm.consumers.delete(stream, name);
    return out;
  } finally {
    await nc.close();
  }
}

export async function streamMessages(url: string, stream: string): Promise<number> {
  return withNats(url, async (nc) => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages);
}

export async function deleteStream(url: string, stream: string): Promise<void> {
  await withNats(url, async (nc) => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
  });
}

async function withNats<T>(url: string, f: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url });
  try {
    return await f(nc);
  } finally {
    await nc.close();
  }
}

export const unpublished = async (db: Db) =>
  Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL'))?.n);

export async function until<T>(f: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A nats-server of the test's own on its own port and store directory, so that the test may stop
 * it and start it again (the shared one on 4222 is never stopped). The store survives a restart.
 */
export interface OwnNats {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export function ownNats(port: number, extraArgs: string[] = []): OwnNats {
  const dir = mkdtempSync(join(tmpdir(), 'tollway-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  };
  return {
    url,
    async start() {
      let out = '';
      proc = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...extraArgs], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      const p = proc;
      await until(async () => {
        if (p.exitCode !== null) throw new Error(`nats-server exited: ${out}`);
        return out.includes('Server is ready'); // it logs this once it accepts clients
      }, `nats-server on ${port}`);
    },
    stop,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function outboxRecords(db: Db): Promise<OutboxRecord[]> {
  return (await db.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox ORDER BY id`)).map(toRecord);
}

/**
 * What a consumer got is the outbox, each event exactly once, and each user's events (so each
 * payment's) in the stream in the order of their seq.
 */
export function expectEachOnceInOrder(rows: OutboxRecord[], got: Received[], prefix: string): void {
  const idOf = new Map(rows.map((r) => [brokerMessage(r, prefix).id, r]));
  expect(got.map((m) => m.msgId).sort()).toEqual([...idOf.keys()].sort());
  const byUser = new Map<string, number[]>();
  for (const m of [...got].sort((a, b) => a.streamSeq - b.streamSeq)) {
    const r = idOf.get(m.msgId)!;
    byUser.set(r.userId, [...(byUser.get(r.userId) ?? []), r.seq]);
  }
  for (const [user, seqs] of byUser) expect(seqs, `order of ${user}'s events`).toEqual([...seqs].sort((a, b) => a - b));
}
