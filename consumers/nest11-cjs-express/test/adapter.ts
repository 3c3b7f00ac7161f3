import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';

export function createHttpApp(module: Type<unknown>): Promise<INestApplication> {
  return NestFactory.create(module, new ExpressAdapter(), { logger: ['error', 'warn'] });
}
