/**
 * Five minutes of payments at a steady rate against a real hub in a child process (SQLite).
 *
 * The rate is 80% of what the hub sustains on this machine, measured in the same run by a short
 * closed-loop burst (64 connections, as `npm run bench` measures it), unless LOAD_RATE gives it.
 * Arrivals are open-loop: request i is due at start + i / rate whatever the earlier answers did,
 * and its latency counts from when it was due, so a stalled hub shows up in the tail instead of
 * slowing the generator down (no coordinated omission).
 *
 * Held: every answer is 200 with status completed; the hub's RSS (VmRSS) grows less than 10% from
 * just after warm-up to the end; every steady payment is stored completed, and the ledger
 * balances afterwards. Figures are printed and written to .tmp/load-steady.json.
 *
 * Memory is read after a full collection the test asks the hub for (gc-on-signal.mjs), at the end
 * of warm-up, every minute, and just before the end, all under load: V8's heap in use swings
 * between ~50 and ~150 MB under this load, so raw samples taken at two moments differ by a third
 * either way, leak or not. The raw series (every 10 s) and the hub's V8 heap are written too.
 *
 * LOAD_SECONDS shortens the run while developing; LOAD_RATE fixes the rate (no burst).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildHub, spawnHub } from '../helpers/child-hub.js';
import { createMerchant, freePort, fund, type Session, signIn } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { freshStore, type TestStore } from '../helpers/stores.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 300);
const GIVEN_RATE = process.env.LOAD_RATE ? Number(process.env.LOAD_RATE) : undefined;
const USERS = 4;
const MERCHANTS = 4;
const AMOUNT = 1000n;
// The steady phase's payments are told apart from the burst's by their resource.
const STEADY = 'https://shop.example/steady/';

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** The hub's V8 heap in use (prom-client's default metric), or NaN if /metrics did not answer. */
async function heapUsedKb(hubUrl: string): Promise<number> {
  const text = await fetch(`${hubUrl}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const m = /^tollway_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (x: number) => Math.round(x * 10) / 10;

describe('steady load', () => {
  let store: TestStore | undefined;
  let hub: ChildHub | undefined;
  afterAll(async () => {
    await hub?.kill('SIGKILL');
    await store?.cleanup();
  });

  it(`${SECONDS} s of payments at 80% of the measured rate: no errors, flat memory, balanced ledger`, async () => {
    // A warm-up of 10 s and a last reading 5 s before the end need room between them.
    expect(SECONDS, 'LOAD_SECONDS').toBeGreaterThanOrEqual(20);
    store = await freshStore('sqlite');
    const gcOnSignal = fileURLToPath(new URL('./gc-on-signal.mjs', import.meta.url));
    hub = await spawnHub(await freePort(), {
      ...store.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=${gcOnSignal}`.trim(),
    });
    const url = new URL(hub.url);
    const users: Session[] = [];
    for (let i = 0; i < USERS; i++) users.push(await signIn(hub.url));
    const merchants: string[] = [];
    for (let i = 0; i < MERCHANTS; i++) merchants.push((await createMerchant(hub.url, `Load shop ${i}`)).merchant.id);
    // 10^12 base units each pays for 10^9 payments; the dev faucet caps one call at 10^6 whole units.
    for (const u of users) await fund(hub.url, u, (10n ** 12n).toString());
    const body = (i: number, resource: string) =>
      JSON.stringify({
        rail: 'internal',
        payTo: merchants[i % MERCHANTS],
        amount: AMOUNT.toString(),
        asset: 'SOVR',
        resource: { url: `${resource}${i % 97}`, method: 'GET' },
      });

    // The sustainable rate, as the benchmark measures it: 64 connections, closed loop, after a warm-up.
    let measured: number | undefined;
    if (GIVEN_RATE === undefined) {
      let n = 0;
      const burst = (seconds: number) =>
        autocannon({
          url: hub!.url,
          connections: 64,
          duration: seconds,
          requests: [
            {
              method: 'POST',
              path: '/payments',
              setupRequest: (req) => {
                const i = ++n;
                return {
                  ...req,
                  body: body(i, 'https://shop.example/burst/'),
                  headers: {
                    'content-type': 'application/json',
                    authorization: `Bearer ${users[i % USERS]!.accessToken}`,
                    'idempotency-key': `burst-${i}`,
                  },
                };
              },
            },
          ],
        });
      await burst(3);
      const r = await burst(7);
      expect(r.errors + r.timeouts + r.non2xx).toBe(0);
      measured = r.requests.average;
    }
    const rate = GIVEN_RATE ?? Math.floor(measured! * 0.8);
    expect(rate).toBeGreaterThan(0);

    // Node's server closes a keep-alive socket idle for 5 s; reusing one just then fails with
    // ECONNRESET. The agent drops its idle sockets well before (a client's race, not the hub's error).
    const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 2000, scheduling: 'lifo' });
    const total = Math.floor(rate * SECONDS);
    const latencies = new Float64Array(total);
    const failures: string[] = [];
    let failed = 0;
    let answered = 0;
    let sent = 0;
    const fail = (message: string) => {
      if (failed++ < 20) failures.push(message);
    };
    const send = (i: number, due: number) =>
      new Promise<void>((resolve) => {
        const payload = body(i, STEADY);
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: '/payments',
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(payload),
              authorization: `Bearer ${users[i % USERS]!.accessToken}`,
              'idempotency-key': `steady-${i}`,
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => {
              latencies[i] = performance.now() - due;
              answered++;
              let status: unknown;
              try {
                status = (JSON.parse(text) as { status?: unknown }).status;
              } catch {
                status = undefined;
              }
              if (res.statusCode !== 200 || status !== 'completed') fail(`${i}: ${res.statusCode} ${text.slice(0, 200)}`);
              resolve();
            });
          },
        );
        req.on('error', (e) => {
          answered++;
          fail(`${i}: ${e.message}`);
          resolve();
        });
        req.end(payload);
      });

    const pid = hub.proc.pid!;
    const rss: { t: number; kb: number }[] = [];
    const start = performance.now();
    const since = () => (performance.now() - start) / 1000;
    const sampler = setInterval(() => rss.push({ t: since(), kb: rssKb(pid) }), 1000);
    // Warm-up is the first fifth (at least 10 s); then a reading every minute and one 5 s before the end.
    const warm = Math.max(10, Math.round(SECONDS * 0.2));
    const marks = [warm];
    for (let t = warm + 60; t < SECONDS - 30; t += 60) marks.push(t);
    marks.push(SECONDS - 5);
    const afterGc: { t: number; rssKb: number; heapUsedKb: number }[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const readAfterGc = async (t: number) => {
      process.kill(pid, 'SIGUSR2');
      await sleep(1000);
      const kbs: number[] = [];
      for (let k = 0; k < 3; k++) {
        kbs.push(rssKb(pid));
        await sleep(250);
      }
      afterGc.push({ t, rssKb: median(kbs), heapUsedKb: await heapUsedKb(hub!.url) });
    };
    // A reading that failed (the hub gone) fails the test below: it leaves afterGc short.
    const readings = marks.map((t) => sleep(t * 1000).then(() => readAfterGc(t).catch(() => undefined)));
    const inflight: Promise<void>[] = [];
    let sendingTook = Number.NaN;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(since() * rate));
        while (sent < due) {
          const i = sent++;
          inflight.push(send(i, start + (i * 1000) / rate));
        }
        if (sent >= total) {
          sendingTook = since();
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    await Promise.all(inflight);
    const elapsed = since();
    await Promise.all(readings);
    clearInterval(sampler);
    agent.destroy();

    afterGc.sort((a, b) => a.t - b.t);
    const rssAfterWarm = afterGc[0]!.rssKb;
    const rssEnd = afterGc.at(-1)!.rssKb;
    const growth = (rssEnd - rssAfterWarm) / rssAfterWarm;

    const sorted = latencies.slice(0, answered).sort();
    const figures = {
      seconds: SECONDS,
      measuredRate: measured === undefined ? null : round(measured),
      targetRate: rate,
      rateSource: GIVEN_RATE === undefined ? 'measured (80%)' : 'LOAD_RATE',
      requests: total,
      // Whether the generator kept to the rate (requests over the time it took to send them).
      achievedRate: round(total / sendingTook),
      secondsToLastAnswer: round(elapsed),
      errors: failed,
      latencyMs: {
        p50: round(quantile(sorted, 0.5)),
        p90: round(quantile(sorted, 0.9)),
        p99: round(quantile(sorted, 0.99)),
        max: round(sorted[sorted.length - 1] ?? Number.NaN),
      },
      rssKb: {
        start: rss[0]?.kb,
        afterWarmUp: rssAfterWarm,
        end: rssEnd,
        growth: Math.round(growth * 1000) / 1000,
        max: Math.max(...rss.map((s) => s.kb)),
      },
      warmUpSeconds: warm,
      // After a full collection, under load: seconds since the start, the hub's RSS and V8 heap in use.
      afterGc,
      // Raw VmRSS every 10 s (V8's sawtooth included).
      rssEvery10s: rss.filter((_, i) => i % 10 === 0).map((s) => s.kb),
      loadAverage: loadavg().map(round),
    };
    process.stdout.write(`steady load: ${JSON.stringify(figures, null, 2)}\n`);
    mkdirSync('.tmp', { recursive: true });
    writeFileSync('.tmp/load-steady.json', `${JSON.stringify(figures, null, 2)}\n`);

    expect(afterGc.map((r) => r.t)).toEqual(marks);
    expect(failures).toEqual([]);
    expect(answered).toBe(total);
    expect(growth).toBeLessThan(0.1);

    // Stop the hub cleanly, then count and balance what it wrote.
    await hub.kill('SIGTERM');
    const rows = await store.db.all<{ status: string; n: number | string }>(
      'SELECT status, COUNT(*) AS n FROM payments WHERE resource_url LIKE ? GROUP BY status',
      [`${STEADY}%`],
    );
    expect(rows.map((r) => [r.status, Number(r.n)])).toEqual([['completed', total]]);
    await expectLedgerBalanced(store.db);
  });
});
