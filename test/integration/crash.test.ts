import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDoctor, spawnHub, type ChildHub } from '../helpers/child-hub.js';
import { balances, createMerchant, freePort, fund, pay, signIn } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

describe.each(ENGINES)('kill -9 in the middle of a burst on %s', (engine) => {
  let store: TestStore | undefined;
  let hub: ChildHub | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-crash-'));
  afterAll(async () => {
    await hub?.kill('SIGKILL');
    await store?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Two hub processes start in turn, tsx compiling each: a busy machine needs more than 30 s.
  it('loses nothing, creates nothing, and leaves no payment stuck', async () => {
    store = await freshStore(engine);
    const env = { TOLLWAY_DATA_DIR: dataDir, ...store.env };
    const port = await freePort();
    hub = await spawnHub(port, env);
    const alice = await signIn(hub.url);
    const merchant = (await createMerchant(hub.url)).merchant.id;
    const funded = 1_000_000n;
    await fund(hub.url, alice, funded.toString());

    const body = (i: number) => ({ rail: 'internal', payTo: merchant, amount: String(100 + (i % 7)), asset: 'SOVR' });
    const keys = Array.from({ length: 400 }, (_, i) => `burst-${i}`);
    let answered = 0;
    let next = 0;
    const killAt = 120;
    let killed: Promise<void> | undefined;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        try {
          const r = await pay(hub!.url, alice, keys[i], body(i));
          await r.arrayBuffer();
          if (++answered === killAt) killed = hub!.kill('SIGKILL');
        } catch {
          // Connection refused or reset: the hub is dead; the retry below settles this key.
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await killed;
    expect(answered).toBeGreaterThanOrEqual(killAt);

    hub = await spawnHub(port, env);
    // The client retries every key, as the extension does after a crash: one payment per key.
    const ids = new Map<string, string>();
    for (const [i, k] of keys.entries()) {
      const r = await pay(hub.url, alice, k, body(i));
      expect(r.status, k).toBe(200);
      const p = (await r.json()) as { transactionId: string; status: string };
      expect(['completed', 'failed']).toContain(p.status);
      ids.set(k, p.transactionId);
    }
    expect(new Set(ids.values()).size).toBe(keys.length);

    const rows = await store.db.all<{ status: string; amount: string }>('SELECT status, amount FROM payments');
    expect(rows).toHaveLength(keys.length);
    expect(rows.filter((r) => r.status === 'pending' || r.status === 'submitted')).toEqual([]);
    const spent = rows.filter((r) => r.status === 'completed').reduce((a, r) => a + BigInt(r.amount), 0n);
    const b = await balances(hub.url, alice);
    expect(BigInt(b.SOVR!.posted)).toBe(funded - spent);
    expect(b.SOVR!.pending).toBe('0');
    await expectLedgerBalanced(store.db);

    await hub.kill('SIGTERM');
    const doctor = await runDoctor(env);
    expect(doctor.output).toContain('invariant holds');
    expect(doctor.code).toBe(0);
  }, 120_000);
});
