import { describe, expect, it } from 'vitest';
import { MAX_CLOCK_SKEW_MS, parseBusMessage } from '../../../lib/bus/bus-message.js';

describe('bus messages from the wire', () => {
  it('reads what instances publish', () => {
    expect(parseBusMessage(JSON.stringify({ i: 'a', o: 'del', k: ['product:1'] }))).toEqual({ i: 'a', o: 'del', k: ['product:1'] });
    const at = Date.now();
    expect(parseBusMessage(JSON.stringify({ i: 'a', o: 'tags', k: ['catalog'], t: at }))?.t).toBe(at);
  });

  it.each([
    ['not JSON', 'del product:1'],
    ['no sender', JSON.stringify({ o: 'del', k: ['x'] })],
    ['an unknown operation', JSON.stringify({ i: 'a', o: 'flushall' })],
    ['keys that are not strings', JSON.stringify({ i: 'a', o: 'del', k: [1] })],
    ['a tag invalidation without a time', JSON.stringify({ i: 'a', o: 'tags', k: ['catalog'] })],
    ['a tag invalidation at a time that is not a number', JSON.stringify({ i: 'a', o: 'tags', k: ['catalog'], t: '9999999999999' })],
    [
      'a tag invalidation far in the future (it would hide the tag until the next bus gap)',
      JSON.stringify({ i: 'a', o: 'tags', k: ['catalog'], t: Date.now() + MAX_CLOCK_SKEW_MS + 60_000 }),
    ],
  ])('ignores %s', (_what, raw) => {
    expect(parseBusMessage(raw)).toBeUndefined();
  });
});
