import { describe, expect, it } from 'vitest';
import { KeyStates } from '../../../lib/engine/key-state.js';

// Flights live in a null-prototype dictionary (cheaper than a Map on the L2 hit path): keys that
// name Object.prototype members, or look like array indexes, must behave like any other key.
const AWKWARD_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '42', '', 'k:1'];

describe('KeyStates flights', () => {
  it('knows no flight for a key that names an Object.prototype member', () => {
    const keys = new KeyStates();
    for (const k of AWKWARD_KEYS) expect(keys.flight(k)).toBeUndefined();
    expect(keys.busy).toBe(0);
  });

  it('registers, finds and ends a flight for every kind of key, counting them', () => {
    const keys = new KeyStates();
    const flights = AWKWARD_KEYS.map((k) => keys.beginFlight(k));
    expect(keys.busy).toBe(AWKWARD_KEYS.length);
    expect(AWKWARD_KEYS.map((k) => keys.flight(k))).toEqual(flights);
    // Nothing leaked onto Object.prototype through a `__proto__` key.
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    for (const [i, k] of AWKWARD_KEYS.entries()) keys.end(k, flights[i]!);
    expect(keys.busy).toBe(0);
    for (const k of AWKWARD_KEYS) expect(keys.flight(k)).toBeUndefined();
  });

  it('ends a flight only if it is still the key’s', () => {
    const keys = new KeyStates();
    const first = keys.beginFlight('__proto__');
    keys.supersede('__proto__');
    const second = keys.beginFlight('__proto__');
    keys.end('__proto__', first);
    expect(keys.flight('__proto__')).toBe(second);
    expect(keys.busy).toBe(1);
  });

  it('supersedes matching flights by key and by tag, and forgets them', () => {
    const keys = new KeyStates();
    const a = keys.beginFlight('__proto__');
    const b = keys.beginFlight('0');
    const c = keys.beginFlight('other');
    c.tags = ['t'];
    keys.supersedeWhere((k) => k === '__proto__' || k === '0');
    expect([a.superseded, b.superseded, c.superseded]).toEqual([true, true, false]);
    expect(keys.flight('__proto__')).toBeUndefined();
    expect(keys.flight('0')).toBeUndefined();
    keys.supersedeTagged(['t']);
    expect(c.superseded).toBe(true);
    expect(keys.flight('other')).toBeUndefined();
    expect(keys.busy).toBe(0);
  });

  it('supersedes every flight when no key filter is given', () => {
    const keys = new KeyStates();
    const all = AWKWARD_KEYS.map((k) => keys.beginFlight(k));
    keys.supersedeWhere();
    expect(all.every((f) => f.superseded)).toBe(true);
    expect(keys.busy).toBe(0);
  });
});
