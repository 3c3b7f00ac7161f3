import { luaScript } from './lua-script.js';

// Every script touches one entry's keys only: `${prefix}{key}`, `…:lease` and `…:ver` share a
// Redis Cluster hash slot through the braces; so does the clear marker the tier passes with
// them (one per slot on a Cluster, see RedisTier).

/** The time (epoch ms.µs) of the latest clear a marker key holds, 0 for none. */
const CLEARED_AT = `
local function clearedAt(mk)
  return tonumber(redis.call('GET', mk) or '0') or 0
end
`;

/**
 * Told that the lease is taken, a caller waits for the holder's announcement: it is noted on the
 * entry's waiters key for as long as the lease has left (plus a second), so FILL announces only
 * when someone waits. Returns the holder's remaining lease in ms (>= 0).
 */
const HELD = `
local function held(lease, waiters)
  local left = redis.call('PTTL', lease)
  if left < 0 then left = 0 end
  redis.call('SET', waiters, '1', 'PX', left + 1000)
  return left
end
`;

/**
 * SET lease NX PX; returns 'acquired', or the holder's remaining lease in ms (noting a waiter), or
 * — when ARGV[3] is '1' and the value exists — 'exists': a holder stored it between our read and
 * this call. KEYS: lease, value, waiters.
 */
export const ACQUIRE = luaScript(`${HELD}
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'acquired' end
return held(KEYS[1], KEYS[3])`);

/**
 * A miss's read and lease in one round trip: the value when present; else SET lease NX PX and
 * -1 when taken, or the holder's remaining lease in ms (>= 0, noting a waiter). An integer never
 * collides with the value, which is a bulk string. KEYS: value, lease, waiters. ARGV: token,
 * lease ttl ms.
 */
export const READ_OR_LEASE = luaScript(`${HELD}
local v = redis.call('GET', KEYS[1])
if v then return v end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
return held(KEYS[2], KEYS[3])`);

/**
 * Writes the loaded value only while the lease is still the holder's, frees the lease and tells
 * the waiters (ARGV[4] channel, ARGV[5] message) — only when one is noted, unless ARGV[7] is '1'
 * (the message also ends other instances' L1 copies where tracking does not). An eviction on any
 * instance deletes the lease, so a load that was in flight during it writes nothing: no stale set.
 * A clear's SCAN may reach the lease only after the fill, though, so the load's start (ARGV[6],
 * epoch ms.µs; '' for no check) is checked against the clear marker too: loaded before a clear,
 * nothing is written (the lease is still freed and the waiters told). KEYS: value, lease, clear
 * marker, waiters.
 */
export const FILL = luaScript(`${CLEARED_AT}
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local stale = ARGV[6] ~= '' and clearedAt(KEYS[3]) >= tonumber(ARGV[6])
if not stale then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
redis.call('DEL', KEYS[2])
if redis.call('DEL', KEYS[4]) == 1 or ARGV[7] == '1' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
if stale then return 0 end
return 1`);

/**
 * The write version of an entry is `<time of its latest write, epoch ms.µs>:<count of writes>`: the
 * count makes every write change it (a load without a lease compares it whole), the time orders
 * writes that land late — a `set` or `del` retried after an outage must not overwrite a write
 * made after it. Bumps KEYS[i] to `max(time, ARGV at):count+1` for ARGV[ttl] ms; returns the
 * time it held before (0 for none, or for a plain counter written by an older version).
 */
const BUMP_VERSION = `
local function bump(vk, at, ttl)
  local v = redis.call('GET', vk)
  local t, n = 0, 0
  if v then
    local a, b = string.match(v, '^([%d%.]+):(%d+)$')
    if a then t, n = tonumber(a), tonumber(b) else n = tonumber(v) or 0 end
  end
  local keep = t
  if at > keep then keep = at end
  redis.call('SET', vk, string.format('%.3f:%d', keep, n + 1), 'PX', ttl)
  return t
end
`;

/**
 * A plain write (set, @CachePut): frees any lease and bumps the write version, so no load in
 * flight (with a lease or without) can store over it — unless a later write of the key has landed
 * already (by time; for a write sent again after the tier did not confirm it, ARGV[5] = '1', also
 * one from the same millisecond, whose order is unknown): then it is dropped (0), as it would undo
 * it. Dropped as well, touching nothing, when it is no later than the cache's latest clear: as if
 * it had landed before the clear. KEYS: value, lease, version, clear marker.
 * ARGV: bytes, ttl ms, version ttl ms, the write's time (epoch ms), '1' when sent again.
 */
export const PUT = luaScript(`${BUMP_VERSION}${CLEARED_AT}
local at = tonumber(ARGV[4])
if clearedAt(KEYS[4]) >= at then return 0 end
local t = bump(KEYS[3], at, ARGV[3])
if t > at or (t == at and ARGV[5] == '1') then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/**
 * A load's write without a lease (lock: false): only if the write version is still the one read
 * before the load ('' for none; `<version>|<clear marker>` once the cache was cleared, see
 * `versionWithClear`). KEYS: value, version, clear marker. ARGV: bytes, ttl ms, version.
 */
export const PUT_IF_VERSION = luaScript(`
local v = redis.call('GET', KEYS[2]) or ''
local m = redis.call('GET', KEYS[3])
if m then v = v .. '|' .. m end
if v ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/**
 * Deletes entries: value and lease, bumping the write version so a load without a lease stores
 * nothing either (a delete always lands: removing is never stale). KEYS: value, lease, version of
 * each entry (in threes). ARGV: version ttl ms, the delete's time (epoch ms).
 */
export const DELETE = luaScript(`${BUMP_VERSION}
local at = tonumber(ARGV[2])
for i = 1, #KEYS, 3 do
  redis.call('UNLINK', KEYS[i], KEYS[i + 1])
  bump(KEYS[i + 2], at, ARGV[1])
end
return 1`);

/**
 * Records a clear's time (ARGV[1], epoch ms.µs) in a clear marker for ARGV[2] ms, unless it holds
 * a later one already (a clear retried after a later one landed must not move it back). KEYS:
 * marker.
 */
export const MARK_CLEAR = luaScript(`${CLEARED_AT}
local at = ARGV[1]
if clearedAt(KEYS[1]) > tonumber(at) then at = redis.call('GET', KEYS[1]) end
redis.call('SET', KEYS[1], at, 'PX', ARGV[2])
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
export const LEASE_SCRIPTS = [ACQUIRE, READ_OR_LEASE, FILL, PUT, PUT_IF_VERSION, DELETE, MARK_CLEAR, RELEASE, EXTEND] as const;
