import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../../../lib/keys/recent-keys.util.js';

describe('RecentKeys', () => {
  it('keeps the latest half of max keys, forgets older ones, and never holds max', () => {
    const r = new RecentKeys<number>(10);
    for (let i = 0; i < 23; i++) r.set(`k${i}`, i);
    for (let i = 18; i < 23; i++) expect(r.get(`k${i}`)).toBe(i);
    expect(r.get('k0')).toBeUndefined();
    expect(r.size).toBeLessThan(10);
  });

  it('a key set again is the newest, with its new value', () => {
    const r = new RecentKeys<string>(4);
    r.set('a', '1');
    r.set('b', '2'); // the generations turn over: a and b are the older
    r.set('a', '3');
    r.set('c', '4'); // turn over again: b is gone, a (set again) is kept
    expect(r.get('a')).toBe('3');
    expect(r.get('b')).toBeUndefined();
    expect(r.get('c')).toBe('4');
  });

  it('property: against the keys in the order last set, with deletes and clears', () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.nat(30), value: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.nat(30) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
        const r = new RecentKeys<number>(max);
        let order: string[] = []; // keys in the order last set, oldest first, each once
        let latest = new Map<string, number>(); // the live keys and their values
        for (const o of ops) {
          if (o.op === 'set') {
            const key = `k${o.key}`;
            order = order.filter((k) => k !== key);
            order.push(key);
            latest.set(key, o.value);
            r.set(key, o.value);
          } else if (o.op === 'delete') {
            latest.delete(`k${o.key}`);
            r.delete(`k${o.key}`);
          } else {
            order = [];
            latest = new Map();
            r.clear();
          }
          expect(r.size).toBeLessThan(max);
          // What it holds is what was set last, never a deleted or older value.
          for (let k = 0; k <= 30; k++) {
            const held = r.get(`k${k}`);
            if (held !== undefined) expect(held).toBe(latest.get(`k${k}`));
          }
          // Of the latest max/2 keys set, those not deleted since are all held.
          for (const k of order.slice(-Math.floor(max / 2))) expect(r.get(k)).toBe(latest.get(k));
        }
      }),
    );
  });
});
