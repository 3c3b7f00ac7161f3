import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { ProductsRepository, type QueryName } from './products.repository.js';

/** `sample_db_queries_total{query}`: how often the (slow) database was really asked. */
@Injectable()
export class ProductsMetrics implements OnModuleInit {
  constructor(
    private readonly registry: Registry,
    private readonly repository: ProductsRepository,
  ) {}

  onModuleInit(): void {
    const { queries } = this.repository;
    new Counter({
      name: 'sample_db_queries_total',
      help: 'Queries that reached the products database.',
      labelNames: ['query'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [query, count] of Object.entries(queries)) this.inc({ query: query as QueryName }, count);
      },
    });
  }
}
