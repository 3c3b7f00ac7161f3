import { FAILED, type Outcome, type SharedTier, type Subscription } from './shared-tier.interface.js';

const confirmed = Promise.resolve(true as const);
const failed = Promise.resolve(FAILED);

/**
 * No shared tier (`redis: false`): never connected, so the read path skips it like a tier that is
 * away; writes and invalidations have nothing to reach and are confirmed at once (nothing to retry).
 */
export class NullSharedTier implements SharedTier {
  readonly connected = false;
  connect(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  on(): () => void {
    return () => undefined;
  }
  get(): Promise<Outcome<null>> {
    return failed;
  }
  getVersioned(): Promise<Outcome<never>> {
    return failed;
  }
  put(): Promise<true> {
    return confirmed;
  }
  putIfVersion(): Promise<Outcome<boolean>> {
    return failed;
  }
  del(): Promise<true> {
    return confirmed;
  }
  delPrefix(): Promise<true> {
    return confirmed;
  }
  clear(): Promise<true> {
    return confirmed;
  }
  acquire(): Promise<Outcome<never>> {
    return failed;
  }
  readOrLease(): Promise<Outcome<never>> {
    return failed;
  }
  extend(): Promise<Outcome<boolean>> {
    return failed;
  }
  fill(): Promise<Outcome<boolean>> {
    return failed;
  }
  release(): Promise<true> {
    return confirmed;
  }
  getMarkers(): Promise<Outcome<never>> {
    return failed;
  }
  setMarker(): Promise<true> {
    return confirmed;
  }
  publish(): Promise<true> {
    return confirmed;
  }
  subscribe(): Subscription {
    return { connected: false, start: () => Promise.resolve(), close: () => Promise.resolve() };
  }
  ping(): Promise<number> {
    return Promise.reject(new Error('Redis is not configured (redis: false)'));
  }
}
