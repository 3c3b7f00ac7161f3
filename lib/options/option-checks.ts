import { TieredCacheConfigError } from '../errors.js';

/**
 * The checks every option goes through, wherever it is given (module, call, decorator). `where`
 * says where it was given, e.g. `@Cacheable() on ProductsService.findOne`; empty for the module.
 */

/** Reads a duration in milliseconds: a finite number >= 1 (or >= 0 when zero is allowed). */
export function duration(o: Record<string, unknown>, name: string, fallback: number, allowZero: boolean, where = '', path = ''): number {
  const v = o[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (allowZero ? 0 : 1)) {
    fail(
      path + name,
      `give a duration in milliseconds (a number ${allowZero ? '>= 0' : '>= 1'})${fallback === undefined ? '' : `, e.g. ${fallback}`}; got ${describe(v)}`,
      where,
    );
  }
  return v;
}

export function flag(o: Record<string, unknown>, name: string, fallback: boolean, where = ''): boolean {
  const v = o[name] ?? fallback;
  if (typeof v !== 'boolean' && v !== undefined) fail(name, `give true or false; got ${describe(v)}`, where);
  return v;
}

/** XFetch beta: a number > 0, or false. */
export function beta(o: Record<string, unknown>, name: string, fallback: number | false, where = ''): number | false {
  const v = o[name];
  if (v === undefined) return fallback;
  if (v === false) return false;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(name, `give a beta > 0 (1 is the usual), or false; got ${describe(v)}`, where);
  return v;
}

/** A fraction from 0 to 1. */
export function fraction(o: Record<string, unknown>, name: string, fallback: number, where = ''): number {
  const v = o[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(name, `give a fraction from 0 to 1, e.g. 0.1 for up to 10% shorter TTLs; got ${describe(v)}`, where);
  return v;
}

export function fail(option: string, fix: string, where = ''): never {
  const of = where === '' ? '' : ` of ${where}`;
  throw new TieredCacheConfigError(`nestjs-tiered-cache: invalid option "${option}"${of}: ${fix}.`);
}

function describe(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}
