import { Injectable } from '@nestjs/common';
import { Cacheable, CacheEvict, CachePut, TieredCacheService } from 'nestjs-tiered-cache';
import type { Product, UpdateProduct } from './product.js';
import { ProductsRepository } from './products.repository.js';

/** Cache keys: the decorators and `getOrSet` below name the same entries through them. */
export const productKey = (id: number) => `product:${id}`;
export const ALL_PRODUCTS_KEY = 'products:all';

@Injectable()
export class ProductsService {
  constructor(
    private readonly repository: ProductsRepository,
    private readonly cache: TieredCacheService,
  ) {}

  /**
   * Read-through: the first call queries the database; later calls are answered by L1 (this
   * instance, 5 s) or Redis (every instance, 60 s). A missing product (`null`) is cached too, for
   * the module's `nullTtl`.
   */
  @Cacheable({ key: productKey, ttl: 60_000 })
  async findOne(id: number): Promise<Product | null> {
    return this.repository.findById(id);
  }

  /** The same read-through, written out with the service instead of a decorator. */
  async findAll(): Promise<Product[]> {
    return this.cache.getOrSet(ALL_PRODUCTS_KEY, () => this.repository.findAll(), { ttl: 30_000 });
  }

  /** Evicts the product and the list once the update succeeded. */
  @CacheEvict({ key: (id: number) => [productKey(id), ALL_PRODUCTS_KEY] })
  async update(id: number, changes: UpdateProduct): Promise<Product | null> {
    return this.repository.update(id, changes);
  }

  @CacheEvict({ key: (id: number) => [productKey(id), ALL_PRODUCTS_KEY] })
  async remove(id: number): Promise<boolean> {
    return this.repository.delete(id);
  }

  /** Always reads the database and overwrites the cached copy (e.g. after a change made elsewhere). */
  @CachePut({ key: productKey, ttl: 60_000 })
  async refresh(id: number): Promise<Product | null> {
    return this.repository.findById(id);
  }
}
