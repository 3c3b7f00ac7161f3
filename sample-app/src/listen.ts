import type { INestApplication } from '@nestjs/common';
import type { SampleAppConfig } from './sample-app.config.js';

/**
 * `app.listen()`, with a port already in use (e.g. a second instance started without `PORT`)
 * reported as what to do rather than a raw `EADDRINUSE` stack.
 */
export async function listen(app: INestApplication, config: Pick<SampleAppConfig, 'port' | 'host'>): Promise<void> {
  try {
    await app.listen(config.port, config.host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new Error(`Port ${config.port} on ${config.host} is in use (another instance of the sample?): stop it, or start this one with PORT=<another port>`);
  }
}
