import type { Redis } from 'ioredis';

/**
 * The commands a cache user needs: exactly the list the README's Security section gives
 * (a spec checks the two agree).
 */
export const CACHE_USER_COMMANDS = [
  'get', 'mget', 'set', 'del', 'unlink', 'exists', 'pttl', 'pexpire', 'incr', 'scan',
  'publish', 'subscribe', 'evalsha', 'eval', 'script|load', 'ping', 'info',
] as const;

/** The ACL rules of a least-privilege cache user for `keyPrefix` (without `on` and the password). */
export function cacheUserRules(keyPrefix: string, without: readonly string[] = []): string[] {
  const prefix = keyPrefix.replace(/[*?[\]\\]/g, '\\$&');
  return [
    'resetkeys', `~${prefix}*`, 'resetchannels', `&${prefix}__bus:v1`, '-@all',
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
