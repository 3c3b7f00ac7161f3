import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
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

/**
 * Stands in for a slow database: every query waits `latencyMs` and is counted, so the effect of
 * the cache is visible (in `/metrics` as `sample_db_queries_total`, and in the tests).
 */
@Injectable()
export class ProductsRepository {
  /** Queries run so far, per query. */
  readonly queries: Record<QueryName, number> = { findById: 0, findAll: 0, update: 0, delete: 0 };
  #rows: Product[] | undefined;

  constructor(@Inject(PRODUCTS_DB_OPTIONS) private readonly options: ProductsDbOptions) {}

  async findById(id: number): Promise<Product | null> {
    const rows = await this.#query('findById');
    return rows.find((p) => p.id === id) ?? null;
  }

  async findAll(): Promise<Product[]> {
    return this.#query('findAll');
  }

  async update(id: number, changes: UpdateProduct): Promise<Product | null> {
    const rows = await this.#query('update');
    const row = rows.find((p) => p.id === id);
    if (!row) return null;
    Object.assign(row, changes, { updatedAt: new Date().toISOString() });
    await this.#save(rows);
    return row;
  }

  async delete(id: number): Promise<boolean> {
    const rows = await this.#query('delete');
    const kept = rows.filter((p) => p.id !== id);
    if (kept.length === rows.length) return false;
    await this.#save(kept);
    return true;
  }

  async #query(name: QueryName): Promise<Product[]> {
    this.queries[name]++;
    await sleep(this.options.latencyMs);
    return this.#load();
  }

  /** A copy of the rows, as a database hands out fresh objects per query. */
  async #load(): Promise<Product[]> {
    const { file } = this.options;
    if (file === undefined) return structuredClone((this.#rows ??= seedProducts()));
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Product[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const rows = seedProducts();
      await this.#save(rows);
      return rows;
    }
  }

  async #save(rows: Product[]): Promise<void> {
    const { file } = this.options;
    if (file === undefined) {
      this.#rows = structuredClone(rows);
      return;
    }
    // Write then rename: another instance never reads a half-written file.
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(rows, null, 2));
    await rename(tmp, file);
  }
}
