// The HTTP benchmark app: Nest 12 + Fastify, three routes returning the same ~1 KB object.
//   GET /const/:id        returns a prebuilt constant (the floor)
//   GET /tiered/:id       a service method decorated with our @Cacheable (L1 hit after the first call)
//   GET /interceptor/:id  @nestjs/cache-manager CacheInterceptor, CacheModule.register({ ttl: 60_000 })
//   GET /__calls          how many times each handler/loader body ran (checked after the load, not measured)
// Decorators are applied by hand, as tsc emits them. Started by s5-http.mjs; reports its port over IPC.
// env: BENCH_WITH_OURS=1 to mount /tiered (needs ../../dist).
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Param, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { REDIS_URL, TTL_MS, __decorate, __metadata, __param, exitWithParent, makeValue } from '../lib/common.mjs';
import { OURS_DIST } from '../lib/variants.mjs';

exitWithParent();
const withOurs = process.env.BENCH_WITH_OURS === '1';
const CONST = makeValue(1);
const calls = { interceptor: 0, tiered: 0 };

// ---------------------------------------------------------------- floor + interceptor
let ConstController = class ConstController {
  get(id) {
    return CONST;
  }
};
__decorate([Get(':id'), __param(0, Param('id')), __metadata('design:type', Function), __metadata('design:paramtypes', [String]), __metadata('design:returntype', Object)], ConstController.prototype, 'get', null);
ConstController = __decorate([Controller('const')], ConstController);

let InterceptorController = class InterceptorController {
  get(id) {
    calls.interceptor++;
    return makeValue(Number(id));
  }
};
__decorate([Get(':id'), __param(0, Param('id')), __metadata('design:type', Function), __metadata('design:paramtypes', [String]), __metadata('design:returntype', Object)], InterceptorController.prototype, 'get', null);
InterceptorController = __decorate([Controller('interceptor'), UseInterceptors(CacheInterceptor)], InterceptorController);

let CallsController = class CallsController {
  get() {
    return calls;
  }
};
__decorate([Get(), __metadata('design:type', Function), __metadata('design:paramtypes', []), __metadata('design:returntype', Object)], CallsController.prototype, 'get', null);
CallsController = __decorate([Controller('__calls')], CallsController);

const controllers = [ConstController, InterceptorController, CallsController];
const providers = [];
const imports = [CacheModule.register({ ttl: 60_000 })];

// ---------------------------------------------------------------- ours
if (withOurs) {
  const { TieredCacheModule, Cacheable } = await import(OURS_DIST);
  let ItemsService = class ItemsService {
    async findOne(id) {
      calls.tiered++;
      return makeValue(id);
    }
  };
  __decorate(
    [Cacheable({ key: (id) => `item:${id}`, ttl: TTL_MS }), __metadata('design:type', Function), __metadata('design:paramtypes', [Number]), __metadata('design:returntype', Promise)],
    ItemsService.prototype,
    'findOne',
    null,
  );
  ItemsService = __decorate([Injectable()], ItemsService);

  let TieredController = class TieredController {
    constructor(items) {
      this.items = items;
    }
    get(id) {
      return this.items.findOne(Number(id));
    }
  };
  __decorate([Get(':id'), __param(0, Param('id')), __metadata('design:type', Function), __metadata('design:paramtypes', [String]), __metadata('design:returntype', Promise)], TieredController.prototype, 'get', null);
  TieredController = __decorate([Controller('tiered'), __metadata('design:paramtypes', [ItemsService])], TieredController);

  imports.push(TieredCacheModule.forRoot({ redis: REDIS_URL, keyPrefix: 'bench:http:', ttl: TTL_MS, l1: { max: 50_000, ttl: TTL_MS }, serializer: 'json' }));
  controllers.push(TieredController);
  providers.push(ItemsService);
}

let AppModule = class AppModule {};
AppModule = __decorate([Module({ imports, controllers, providers })], AppModule);

const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
await app.listen(0, '127.0.0.1');
const port = app.getHttpServer().address().port;
process.send?.({ type: 'listening', port, withOurs });
const shutdown = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('message', (m) => m?.type === 'close' && shutdown());
