import 'reflect-metadata';
import { it } from 'vitest';
import { createApp, uniquePrefix } from '../support/app.js';
import { startCluster } from '../support/topology.js';
it('debug', async () => {
  const topo = await startCluster();
  for (const tracking of [false, true, false, true]) {
    const t0 = Date.now();
    const { app, cache } = await createApp({ redis: topo.redis, keyPrefix: uniquePrefix('dbg'), tracking });
    console.log(tracking, 'boot', Date.now() - t0, cache.stats().l2.connected, cache.stats().tracking.status);
    await app.close();
  }
  await topo.stop();
}, 60_000);
