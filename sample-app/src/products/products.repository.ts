import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { seedProducts, type Product, type UpdateProduct } from './product.js';

export const PRODUCTS_DB_OPTIONS = Symbol('PRODUCTS_DB_OPTIONS');

export interface ProductsDbOptions {
  /** Time each query takes, in milliseconds. */
  latencyMs: number;
  /** JSON file shared by every instance on the machine; undefined keeps the rows in process. */
  file: string | undefined;
}

export type QueryName = 'findById' | 'findAll' | 'update' | 'delete';

/** A lock file older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 10_000;

/**
 * Stands in for a slow database: every query waits `latencyMs` and is counted, so the effect of
 * the cache is visible (in `/metrics` as `sample_db_queries_total`, and in the tests).
 */
@Injectable()
export class ProductsRepository {
  /** Queries run so far, per query. */
  readonly queries: Record<QueryName, number> = { findById: 0, findAll: 0, update: 0, delete: 0 };
  #rows: Product[] | undefined;
  /** Writes of this process, one at a time (the lock file orders them across processes). */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(@Inject(PRODUCTS_DB_OPTIONS) private readonly options: ProductsDbOptions) {}

  async findById(id: number): Promise<Product | null> {
    const rows = await this.#query('findById');
    return rows.find((p) => p.id === id) ?? null;
  }

  async findAll(): Promise<Product[]> {
    return this.#query('findAll');
  }

  async update(id: number, changes: UpdateProduct): Promise<Product | null> {
    return this.#write('update', (rows) => {
      const row = rows.find((p) => p.id === id);
      if (!row) return { result: null };
      Object.assign(row, changes, { updatedAt: new Date().toISOString() });
      return { result: row, rows };
    });
  }

  async delete(id: number): Promise<boolean> {
    return this.#write('delete', (rows) => {
      const kept = rows.filter((p) => p.id !== id);
      return kept.length === rows.length ? { result: false } : { result: true, rows: kept };
    });
  }

  async #query(name: QueryName): Promise<Product[]> {
    this.queries[name]++;
    await sleep(this.options.latencyMs);
    return this.#load();
  }

  /**
   * Read-modify-write of the rows as one transaction: two writers (in this process or in another
   * instance sharing the file) never both read the same rows and then overwrite each other's change.
   */
  async #write<T>(name: QueryName, change: (rows: Product[]) => { result: T; rows?: Product[] }): Promise<T> {
    this.queries[name]++;
    await sleep(this.options.latencyMs);
    const run = () =>
      this.#locked(async () => {
        const { result, rows } = change(await this.#load());
        if (rows) await this.#save(rows);
        return result;
      });
    const done = this.#writes.then(run, run);
    this.#writes = done.catch(() => undefined);
    return done;
  }

  /** Runs `fn` holding `<file>.lock` (created exclusively), so instances on the machine write in turn. */
  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    const { file } = this.options;
    if (file === undefined) return fn();
    const lock = `${file}.lock`;
    for (;;) {
      try {
        const handle = await open(lock, 'wx');
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > STALE_LOCK_MS) await unlink(lock).catch(() => undefined);
        else await sleep(2);
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  /** A copy of the rows, as a database hands out fresh objects per query. */
  async #load(): Promise<Product[]> {
    const { file } = this.options;
    if (file === undefined) return structuredClone((this.#rows ??= seedProducts()));
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Product[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // First use: create the file only if no other instance did meanwhile (link never replaces).
      const tmp = await this.#writeTmp(seedProducts());
      await link(tmp, file).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await unlink(tmp);
      return JSON.parse(await readFile(file, 'utf8')) as Product[];
    }
  }

  async #save(rows: Product[]): Promise<void> {
    const { file } = this.options;
    if (file === undefined) {
      this.#rows = structuredClone(rows);
      return;
    }
    // Write then rename: another instance never reads a half-written file.
    await rename(await this.#writeTmp(rows), file);
  }

  async #writeTmp(rows: Product[]): Promise<string> {
    const tmp = `${this.options.file}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(rows, null, 2));
    return tmp;
  }
}
