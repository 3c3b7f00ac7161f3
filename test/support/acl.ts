import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The commands a cache user needs: exactly the list the README's Security section gives
 * (a spec checks the two agree).
 */
export const CACHE_USER_COMMANDS = [
  'get',
  'mget',
  'set',
  'del',
  'unlink',
  'exists',
  'pttl',
  'pexpire',
  'incr',
  'scan',
  'publish',
  'subscribe',
  'evalsha',
  'eval',
  'script|load',
  'ping',
  'info',
  // Server-assisted invalidation (`tracking`).
  'client|id',
  'client|tracking',
] as const;

/** The ACL rules of a least-privilege cache user for `keyPrefix` (without `on` and the password). */
export function cacheUserRules(keyPrefix: string, without: readonly string[] = []): string[] {
  const prefix = keyPrefix.replace(/[*?[\]\\]/g, '\\$&');
  return [
    'resetkeys',
    `~${prefix}*`,
    'resetchannels',
    `&${prefix}__bus:v1`,
    '&__redis__:invalidate',
    '-@all',
    ...CACHE_USER_COMMANDS.filter((c) => !without.includes(c)).map((c) => `+${c}`),
  ];
}

/** Creates (or replaces) ACL user `name` with `password` and the cache user's rules. */
export async function createCacheUser(
  admin: Redis,
  name: string,
  password: string,
  keyPrefix: string,
  options: { without?: readonly string[] } = {},
): Promise<void> {
  await admin.call('ACL', 'DELUSER', name);
  await admin.call('ACL', 'SETUSER', name, 'on', `>${password}`, ...cacheUserRules(keyPrefix, options.without));
}

/** What Redis refused since the last `ACL LOG RESET`, as `user command` lines (empty when nothing). */
export async function aclDenials(admin: Redis): Promise<string[]> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  return entries.map((e) => {
    const m = new Map<string, unknown>();
    for (let i = 0; i < e.length; i += 2) m.set(String(e[i]), e[i + 1]);
    return `${String(m.get('username'))} ${String(m.get('reason'))} ${String(m.get('object'))}`;
  });
}

const urls = new WeakMap<Redis, Map<string, string>>();

/**
 * A URL that logs in to the Redis on `port` as the least-privilege cache user of `keyPrefix`
 * (created through `admin` on first use, then reused).
 */
export async function cacheUserUrl(admin: Redis, port: number, keyPrefix: string): Promise<string> {
  let known = urls.get(admin);
  if (known === undefined) urls.set(admin, (known = new Map()));
  let url = known.get(keyPrefix);
  if (url === undefined) {
    const name = `cache-${createHash('sha1').update(keyPrefix).digest('hex').slice(0, 12)}`;
    const password = randomBytes(12).toString('hex');
    await createCacheUser(admin, name, password, keyPrefix);
    url = `redis://${name}:${password}@127.0.0.1:${port}`;
    known.set(keyPrefix, url);
  }
  return url;
}
