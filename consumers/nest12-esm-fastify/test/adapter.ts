import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

export function createHttpApp(module: Type<unknown>): Promise<INestApplication> {
  return NestFactory.create(module, new FastifyAdapter(), { logger: ['error', 'warn'] });
}
