import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { SampleAppConfig } from './sample-app.config.js';

/** Builds the app on the configured HTTP adapter; the caller calls `listen()`. */
export async function createSampleApp(config: SampleAppConfig): Promise<INestApplication> {
  const adapter = config.adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  return NestFactory.create(AppModule.forRoot(config), adapter, { logger: config.logger ? undefined : false });
}
