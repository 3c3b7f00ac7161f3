import { luaScript } from './lua-script.js';

// Every script touches one entry's keys only: `${prefix}{key}`, `…:lease` and `…:ver` share a
// Redis Cluster hash slot through the braces.

/**
 * SET lease NX PX; returns 'acquired', or the holder's remaining lease in ms, or — when ARGV[3] is
 * '1' and the value exists — 'exists': a holder stored it between our read and this call.
 * KEYS: lease, value.
 */
export const ACQUIRE = luaScript(`
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'acquired' end
return redis.call('PTTL', KEYS[1])`);

/**
 * Writes the loaded value only while the lease is still the holder's, frees the lease and tells
 * the waiters (ARGV[4] channel, ARGV[5] message). An eviction on any instance deletes the lease,
 * so a load that was in flight during it writes nothing: no stale set. KEYS: value, lease.
 */
export const FILL = luaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

/**
 * A plain write (set, @CachePut): frees any lease and bumps the write version, so no load in
 * flight (with a lease or without) can store over it. KEYS: value, lease, version.
 * ARGV: bytes, ttl ms, version ttl ms.
 */
export const PUT = luaScript(`
redis.call('DEL', KEYS[2])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/**
 * A load's write without a lease (lock: false): only if the write version is still the one read
 * before the load ('' for none). KEYS: value, version. ARGV: bytes, ttl ms, version.
 */
export const PUT_IF_VERSION = luaScript(`
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/**
 * Deletes entries: value and lease, bumping the write version so a load without a lease stores
 * nothing either. KEYS: value, lease, version of each entry (in threes). ARGV: version ttl ms.
 */
export const DELETE = luaScript(`
for i = 1, #KEYS, 3 do
  redis.call('UNLINK', KEYS[i], KEYS[i + 1])
  redis.call('INCR', KEYS[i + 2])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[1])
end
return 1`);

/** Compare-and-delete: only the holder's token frees the lease. KEYS: lease. */
export const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Compare-and-extend, while a long load runs. KEYS: lease. */
export const EXTEND = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

/** Every script, loaded into Redis on connect so the first miss does not pay for NOSCRIPT. */
export const LEASE_SCRIPTS = [ACQUIRE, FILL, PUT, PUT_IF_VERSION, DELETE, RELEASE, EXTEND] as const;
