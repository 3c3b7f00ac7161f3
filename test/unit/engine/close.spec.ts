import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, fleet } from './support/engine-fleet.js';

afterEach(closeAll);

/**
 * Found by the mutant check's restart command (branch mutants2): close() stopped retrying the
 * writes the shared tier had not confirmed, so a set()/del() made while it was away was lost when
 * the app shut down before the next retry (every second). The test failed before.
 */
describe('close()', () => {
  it('sends the writes the shared tier has not confirmed once more before it shuts down', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances;
    await a!.cache.set('k', 'before');
    a!.tier.setDown(true);
    await a!.cache.set('k', 'written while the tier was away');
    await b!.cache.set('other', 'x');
    a!.tier.setDown(false);
    expect(a!.engine.durable.pending).toBe(1);
    await a!.engine.close();
    expect(await b!.cache.get('k')).toBe('written while the tier was away');
  });
});
