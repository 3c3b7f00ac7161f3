import { Module, type DynamicModule } from '@nestjs/common';
import { ProductsController } from './products.controller.js';
import { ProductsMetrics } from './products.metrics.js';
import { PRODUCTS_DB_OPTIONS, ProductsRepository, type ProductsDbOptions } from './products.repository.js';
import { ProductsService } from './products.service.js';

@Module({})
export class ProductsModule {
  static register(db: ProductsDbOptions): DynamicModule {
    return {
      module: ProductsModule,
      controllers: [ProductsController],
      providers: [{ provide: PRODUCTS_DB_OPTIONS, useValue: db }, ProductsRepository, ProductsService, ProductsMetrics],
    };
  }
}
