/** Number of hash slots of a Redis Cluster. */
export const SLOTS = 16_384;

/** CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys with. */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[i] = c & 0xffff;
  }
  return t;
})();

/**
 * The Redis Cluster hash slot of a key, as `CLUSTER KEYSLOT` computes it: CRC16 of the key's
 * UTF-8 bytes modulo 16384, or of its hash tag only — the bytes between the first `{` and the
 * first `}` after it, when there is at least one. Every key of one cache entry
 * (`${prefix}{${key}}`, its `:lease`) shares the tag, so they share a slot.
 */
export function keySlot(key: string | Buffer): number {
  const b = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let start = 0;
  let end = b.length;
  const open = b.indexOf(0x7b);
  if (open !== -1) {
    const close = b.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b[i]!) & 0xff]!;
  return crc & (SLOTS - 1);
}

/** Splits keys into groups that each live in one hash slot, keeping their order within a group. */
export function groupBySlot(keys: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const k of keys) {
    const slot = keySlot(k);
    const g = groups.get(slot);
    if (g === undefined) groups.set(slot, [k]);
    else g.push(k);
  }
  return [...groups.values()];
}

let slotTags: string[] | undefined;

/**
 * A short hash tag for `slot`: a key holding `{tag}` lives in that slot. The table is built on
 * first use (about 170 000 CRC16s of a few bytes, once per process; only Cluster users need it).
 */
export function slotTag(slot: number): string {
  if (slotTags === undefined) {
    const tags = new Array<string>(SLOTS);
    for (let i = 0, found = 0; found < SLOTS; i++) {
      const tag = i.toString(36);
      const s = keySlot(tag);
      if (tags[s] === undefined) {
        tags[s] = tag;
        found++;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}
