/**
 * The "database" behind the cached methods: every write bumps a per-row version, and a loader
 * returns the row it read, stamped with key, tenant and version, so the oracle can tell whether a
 * read returned the right row and a fresh enough version of it.
 */

/** A tenant as `keyContext()` returns it: `undefined` and `''` are different tenants. */
export type Tenant = string | undefined;

/** What a loader returns for an existing row. */
export interface Row {
  key: string;
  /** `'∅'` stands for the `undefined` tenant (JSON would drop the field). */
  tenant: string;
  version: number;
  /** Epoch ms when the loader (or the write) produced this value. */
  at: number;
  /** The oracle's number of the loader run that produced it (none for a write's value). */
  run?: number;
}

interface RowState {
  version: number;
  exists: boolean;
  /** Every version this row had, and whether the row existed then. */
  history: { version: number; exists: boolean }[];
}

export const tenantTag = (t: Tenant): string => (t === undefined ? '∅' : `t:${t}`);

/** A row's identity: tenant and key. */
export const rowId = (tenant: Tenant, key: string): string => `${tenantTag(tenant)}/${key}`;

export class VersionedDatabase {
  readonly #rows = new Map<string, RowState>();

  constructor(readonly now: () => number = Date.now) {}

  #state(id: string): RowState {
    let s = this.#rows.get(id);
    if (s === undefined) {
      s = { version: 0, exists: true, history: [{ version: 0, exists: true }] };
      this.#rows.set(id, s);
    }
    return s;
  }

  /** The row as a loader reads it now: null when deleted. */
  read(tenant: Tenant, key: string): Row | null {
    const s = this.#state(rowId(tenant, key));
    return s.exists ? { key, tenant: tenantTag(tenant), version: s.version, at: this.now() } : null;
  }

  /** Writes (or deletes, `exists: false`) the row: its version goes up by one. */
  write(tenant: Tenant, key: string, exists = true): number {
    const s = this.#state(rowId(tenant, key));
    s.version++;
    s.exists = exists;
    s.history.push({ version: s.version, exists });
    return s.version;
  }

  version(id: string): number {
    return this.#state(id).version;
  }

  /** Whether the row was deleted at some version in [from, to]. */
  absentBetween(id: string, from: number, to = Infinity): boolean {
    return this.#state(id).history.some((h) => !h.exists && h.version >= from && h.version <= to);
  }

  ids(): string[] {
    return [...this.#rows.keys()];
  }
}
