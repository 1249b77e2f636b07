/** The per-address lock the SOVR rail holds from the balance read until the reservation commits. */
import { describe, expect, it } from 'vitest';
import { createKeyedMutex } from '../../server/chain/evm/mutex.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('a keyed mutex', () => {
  it('lets one holder per key in at a time, in arrival order, and other keys through at once', async () => {
    const m = createKeyedMutex();
    const order: string[] = [];
    const first = await m.lock('a');
    const second = m.lock('a').then((release) => {
      order.push('a2');
      return release;
    });
    const third = m.lock('a').then((release) => {
      order.push('a3');
      release();
    });
    const other = await m.lock('b');
    order.push('b1');
    await tick();
    expect(order).toEqual(['b1']);
    first();
    const releaseSecond = await second;
    await tick();
    expect(order).toEqual(['b1', 'a2']);
    releaseSecond();
    await third;
    expect(order).toEqual(['b1', 'a2', 'a3']);
    other();
    expect(m.size()).toBe(0);
  });

  it('takes a second release of the same hold as a no-op', async () => {
    const m = createKeyedMutex();
    const r1 = await m.lock('k');
    const waiting = m.lock('k');
    r1();
    const r2 = await waiting;
    let thirdIn = false;
    const third = m.lock('k').then((r) => {
      thirdIn = true;
      return r;
    });
    r1(); // must not let the third in while the second holds
    await tick();
    expect(thirdIn).toBe(false);
    r2();
    (await third)();
    expect(m.size()).toBe(0);
  });
});
