import { afterEach, describe, expect, it } from 'vitest';
import { claimKey, keyScope } from '../../server/core/idempotency.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

describe.each(ENGINES)('idempotency keys keep their meaning across the scope migration (%s)', (engine) => {
  let store: TestStore;
  afterEach(async () => store?.cleanup());

  it('a payment key, a refund key and a deposit key from before still replay in their new scopes', async () => {
    store = await freshStore(engine);
    const before = MIGRATIONS.findIndex((m) => m.id === '013_idempotency_scope');
    await migrate(store.db, MIGRATIONS.slice(0, before));
    const now = Date.now();
    const old = [
      ['u_1', 'k-pay', 'pay_1'],
      ['merchant:m_1', 'k-refund', 'pay_1'],
      ['deposit:u_1', 'k-dep', 'dep_1'],
    ];
    for (const [user, key, resource] of old) {
      await store.db.run(
        `INSERT INTO idempotency_keys (user_id, key, fingerprint, payment_id, state, response_status, response_body, created_at, expires_at)
         VALUES (?, ?, 'fp', ?, 'done', 200, ?, ?, ?)`,
        [user, key, resource, JSON.stringify({ was: key }), now, now + 3600_000],
      );
    }
    await migrate(store.db, MIGRATIONS);

    const replays = await store.db.transaction(async (tx) => [
      await claimKey(tx, { scope: keyScope('payment', 'u_1'), key: 'k-pay', fingerprint: 'fp', resourceId: 'x', now }),
      await claimKey(tx, { scope: keyScope('refund', 'm_1'), key: 'k-refund', fingerprint: 'fp', resourceId: 'x', now }),
      await claimKey(tx, { scope: keyScope('deposit', 'u_1'), key: 'k-dep', fingerprint: 'fp', resourceId: 'x', now }),
    ]);
    expect(replays).toEqual([
      { claimed: false, replay: { status: 200, body: { was: 'k-pay' } } },
      { claimed: false, replay: { status: 200, body: { was: 'k-refund' } } },
      { claimed: false, replay: { status: 200, body: { was: 'k-dep' } } },
    ]);
    // The same key in another scope is another key.
    const other = await store.db.transaction((tx) =>
      claimKey(tx, { scope: keyScope('deposit', 'u_1'), key: 'k-pay', fingerprint: 'fp2', resourceId: 'dep_2', now }),
    );
    expect(other).toEqual({ claimed: true });
  });
});
