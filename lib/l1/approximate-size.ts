/** Past this many values the walk stops counting: a bound on the cost of sizing one entry. */
const MAX_VISITS = 10_000;

/**
 * A rough size in bytes of a value held in memory, for `l1.maxSize` when nothing is serialized
 * (`redis: false`) and no `sizeCalculation` is given: UTF-16 strings, 8-byte numbers, binary data
 * by its length, a few bytes of overhead per object and property. Handles what no serializer
 * does (BigInt, cycles, class instances). Not exact — `sizeCalculation` is, when it matters.
 */
export function approximateSize(value: unknown): number {
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  let bytes = 0;
  let visits = 0;
  while (stack.length > 0 && visits++ < MAX_VISITS) {
    const v = stack.pop();
    switch (typeof v) {
      case 'string':
        bytes += 16 + 2 * v.length;
        continue;
      case 'number':
      case 'boolean':
      case 'undefined':
      case 'symbol':
      case 'function':
        bytes += 8;
        continue;
      case 'bigint':
        bytes += 16 + Math.ceil(v.toString(16).length / 2);
        continue;
    }
    if (v === null) {
      bytes += 8;
      continue;
    }
    const o = v as object;
    if (seen.has(o)) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o)) bytes += 32 + o.byteLength;
    else if (o instanceof ArrayBuffer) bytes += 32 + o.byteLength;
    else if (o instanceof Map) {
      bytes += 32;
      for (const [k, x] of o) stack.push(k, x);
    } else if (o instanceof Set) {
      bytes += 32;
      for (const x of o) stack.push(x);
    } else {
      bytes += 32;
      for (const k of Object.keys(o)) {
        bytes += 16 + 2 * k.length;
        stack.push((o as Record<string, unknown>)[k]);
      }
    }
  }
  return bytes;
}
