import { assertKey } from './cache-key.util.js';

/**
 * How a key is stored under `keyContext`: the context's form, `/`, then the key as given.
 *
 * - a non-empty string context `s`: `encodeURIComponent(s)` — `acme/invoice:1`
 * - `''`: `@empty/invoice:1`
 * - `undefined` (no context, e.g. a background job): `@none/invoice:1`
 *
 * `encodeURIComponent` never writes `/` or `@`, so the first `/` ends the context and no string
 * context, whatever it holds (`/`, `%2F`, `@none`), can spell another context's form: a key
 * cannot be forged into another tenant's entry. 0.1 stored both `''` and `undefined` as `/…`;
 * neither form reads those entries, so no entry crosses between them on upgrade.
 *
 * The key is the unaltered suffix, so the scoped namespace plus `:` is a prefix of every scoped
 * default key of that namespace (`@CacheEvict({ allEntries: true })` deletes by that prefix).
 *
 * Without `keyContext` keys are stored as given.
 *
 * @param keyContext the module's `keyContext` option; it is called on every scoped key.
 * @returns a function that validates a key (non-empty string, else `TypeError`) and scopes it;
 *   it throws `TypeError` when `keyContext()` returns something other than a string or undefined.
 */
export function createKeyScope(keyContext: (() => string | undefined) | undefined): (key: string) => string {
  if (keyContext === undefined) return (key) => key;
  return (key) => {
    assertKey(key, 'a cache call');
    const ctx: unknown = keyContext();
    if (ctx === undefined) return `${NO_CONTEXT}/${key}`;
    if (ctx === '') return `${EMPTY_CONTEXT}/${key}`;
    if (typeof ctx !== 'string') {
      throw new TypeError(`nestjs-tiered-cache: keyContext() must return a string or undefined; got ${describe(ctx)}`);
    }
    return `${encodeURIComponent(ctx)}/${key}`;
  };
}

// `@` is outside what `encodeURIComponent` writes, so no string context can spell these.
const NO_CONTEXT = '@none';
const EMPTY_CONTEXT = '@empty';

function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? `an object (${Object.prototype.toString.call(v)})` : `${typeof v} ${String(v)}`;
}
