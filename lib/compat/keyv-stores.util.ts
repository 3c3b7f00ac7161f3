import { fail } from '../options/option-checks.js';
import type { KeyvStore } from '../shared/keyv-shared-tier.js';

/** A `Keyv` instance (not wrapped again), recognised by shape as `@nestjs/cache-manager` does. */
function isKeyvInstance(s: object): boolean {
  return 'opts' in s && 'hooks' in s && 'stats' in s && typeof (s as { disconnect?: unknown }).disconnect === 'function';
}

/** A `Cacheable` (primary and secondary stores of its own), used as it is. */
function isCacheable(s: object): boolean {
  return 'primary' in s && 'secondary' in s && 'nonBlocking' in s;
}

function hasStoreMethods(s: object): s is KeyvStore {
  const o = s as Record<string, unknown>;
  return ['get', 'set', 'delete', 'clear'].every((m) => typeof o[m] === 'function');
}

/**
 * The `stores` option as cache-manager 7 takes it — one store or a list of `Keyv` instances,
 * `Cacheable` instances and Keyv store adapters (`new KeyvRedis(url)`, `new KeyvMemcache(...)`) —
 * as a list of stores with Keyv's API. An adapter is wrapped in a `Keyv` (with `namespace`, as
 * `@nestjs/cache-manager` does), which needs the `keyv` package: every adapter depends on it.
 * Validated when the module starts; a wrong entry fails it with the fix.
 */
export async function toKeyvStores(stores: unknown, namespace: string | undefined): Promise<KeyvStore[]> {
  const list = Array.isArray(stores) ? stores : [stores];
  if (list.length === 0) fail('stores', 'give at least one Keyv store (e.g. [new KeyvRedis(url)]), or leave stores out for an in-process cache');
  const out: KeyvStore[] = [];
  for (const [i, s] of list.entries()) {
    const name = Array.isArray(stores) ? `stores[${i}]` : 'stores';
    if (typeof s !== 'object' || s === null || !hasStoreMethods(s)) {
      fail(name, 'give a Keyv instance (new Keyv(...), createKeyv(url)), a Keyv store adapter (new KeyvRedis(url)) or a Cacheable');
    }
    out.push(isKeyvInstance(s) || isCacheable(s) ? s : new (await loadKeyv(name))({ store: s, ...(namespace ? { namespace } : {}) }));
  }
  return out;
}

type KeyvClass = new (options: { store: unknown; namespace?: string }) => KeyvStore;

async function loadKeyv(name: string): Promise<KeyvClass> {
  try {
    const m = (await import('keyv')) as unknown as { Keyv?: KeyvClass; default?: KeyvClass };
    return (m.Keyv ?? m.default)!;
  } catch {
    return fail(name, 'a Keyv store adapter is used through Keyv: install it (npm install keyv), or pass new Keyv({ store }) yourself');
  }
}
