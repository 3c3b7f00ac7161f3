import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';

/**
 * Counters for interceptor specs: how often each handler ran, and how many requests reached the
 * route (cached or not) — `everyoneArrived` resolves once `expected` of them did, so a handler can
 * hold the first run until the whole stampede is queued behind it.
 */
export function handlerRuns(expected: number) {
  @Injectable()
  class HandlerRuns {
    readonly runs = new Map<string, number>();
    arrivals = 0;
    readonly everyoneArrived: Promise<void>;
    open!: () => void;

    constructor() {
      this.everyoneArrived = new Promise<void>((resolve) => (this.open = resolve));
    }

    ran(name: string): number {
      const n = this.count(name) + 1;
      this.runs.set(name, n);
      return n;
    }

    count(name: string): number {
      return this.runs.get(name) ?? 0;
    }

    arrive(): void {
      if (++this.arrivals === expected) this.open();
    }
  }

  /** Bound before `CacheInterceptor`: counts every request that reached the route, served from cache or not. */
  @Injectable()
  class CountArrivals implements NestInterceptor {
    constructor(readonly runs: HandlerRuns) {}

    intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
      this.runs.arrive();
      return next.handle();
    }
  }

  return { HandlerRuns, CountArrivals };
}
