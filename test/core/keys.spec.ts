import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict } from 'nestjs-tiered-cache';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

@Injectable()
class SearchService {
  runs = 0;
  @Cacheable()
  async search(params: URLSearchParams): Promise<string> {
    this.runs++;
    return `results for ${params.get('user')}`;
  }

  @Cacheable()
  async describe(x: unknown): Promise<string> {
    return `${typeof x} ${String(x)}`;
  }
}

// Two classes named ReportsService, as an admin module and a public module might each declare.
const AdminReports = (() => {
  @Injectable()
  class ReportsService {
    @Cacheable()
    async find(id: number): Promise<string> {
      return `admin report ${id}`;
    }
  }
  return ReportsService;
})();
const PublicReports = (() => {
  @Injectable()
  class ReportsService {
    @Cacheable()
    async find(id: number): Promise<string> {
      return `public report ${id}`;
    }
  }
  return ReportsService;
})();

@Injectable()
class CatalogueSearchService {
  runs = 0;
  @Cacheable()
  async search(query: string): Promise<string> {
    this.runs++;
    return `${query.length} hits`;
  }

  @CacheEvict({ allEntries: true })
  async reindex(): Promise<void> {}
}

// One base class, two subclasses reading different data through an inherited cached method.
abstract class Ledger {
  abstract readonly source: string;
  runs = 0;
  @Cacheable()
  async balance(account: number): Promise<string> {
    this.runs++;
    return `${this.source} balance of ${account}`;
  }

  @CacheEvict({ allEntries: true })
  async close(): Promise<void> {}
}
@Injectable()
class RetailLedger extends Ledger {
  readonly source = 'retail';
}
@Injectable()
class TreasuryLedger extends Ledger {
  readonly source = 'treasury';
}

describe('keys', () => {
  const suite = redisSuite();

  describe('default keys', () => {
    it('never answers one user’s call with another’s: URLSearchParams run uncached', async () => {
      const { app } = await suite.app({}, { providers: [SearchService] });
      const search = app.get(SearchService);
      expect(await search.search(new URLSearchParams('user=alice'))).toBe('results for alice');
      expect(await search.search(new URLSearchParams('user=bob'))).toBe('results for bob');
      expect(search.runs).toBe(2);
    });

    it('tells numbers, bigints, strings and undefined apart', async () => {
      const { app } = await suite.app({}, { providers: [SearchService] });
      const search = app.get(SearchService);
      const inputs = [Infinity, 'Infinity', 10n, '10n', -0, 0, NaN, 'NaN', undefined, 'undefined', null];
      for (const x of inputs) await search.describe(x);
      expect(await Promise.all(inputs.map((x) => search.describe(x)))).toEqual(inputs.map((x) => `${typeof x} ${String(x)}`));
    });

    it('gives each subclass its own default keys for an inherited method, and its own allEntries', async () => {
      const { app } = await suite.app({}, { providers: [RetailLedger, TreasuryLedger] });
      const retail = app.get(RetailLedger);
      const treasury = app.get(TreasuryLedger);
      expect(await retail.balance(1)).toBe('retail balance of 1');
      expect(await treasury.balance(1)).toBe('treasury balance of 1');
      expect(await retail.balance(1)).toBe('retail balance of 1');
      expect([retail.runs, treasury.runs]).toEqual([1, 1]);
      // Evicting one subclass's entries leaves the other's.
      await retail.close();
      expect(await treasury.balance(1)).toBe('treasury balance of 1');
      expect(await retail.balance(1)).toBe('retail balance of 1');
      expect([retail.runs, treasury.runs]).toEqual([2, 1]);
    });

    it('gives two classes of the same name namespaces of their own', async () => {
      const { app } = await suite.app({}, { providers: [AdminReports, PublicReports] });
      expect(await app.get(AdminReports).find(1)).toBe('admin report 1');
      expect(await app.get(PublicReports).find(1)).toBe('public report 1');
    });
  });

  describe.each([
    ['without keyContext', {}],
    ['with keyContext', { keyContext: () => 'acme' }],
  ])('a default key longer than maxKeyLength (%s)', (_, context) => {
    it('is evicted by @CacheEvict({ allEntries: true }) from both tiers', async () => {
      const options = { keyPrefix: uniquePrefix('long'), maxKeyLength: 40, ...context };
      const { app } = await suite.app(options, { providers: [CatalogueSearchService] });
      const { app: other } = await suite.app(options, { providers: [CatalogueSearchService] });
      const query = 'q'.repeat(200);
      const here = app.get(CatalogueSearchService);
      await here.search(query);
      const stored = async () => (await suite.raw.scan('0', 'MATCH', `${options.keyPrefix}*`, 'COUNT', 1000))[1];
      expect(await stored()).toHaveLength(1);
      expect((await stored())[0]).toMatch(/#[\w-]{43}\}$/); // it was hashed
      await other.get(CatalogueSearchService).search(query); // read from Redis
      expect(other.get(CatalogueSearchService).runs).toBe(0);

      await here.reindex();

      expect(await stored()).toEqual([]); // Redis
      await here.search(query); // L1 of this instance, then Redis
      expect(here.runs).toBe(2);
    });
  });

  describe('keyContext', () => {
    it("keeps '' and undefined apart: neither reads the other's entries, in L1 or in Redis", async () => {
      let current: string | undefined;
      const options = { keyPrefix: uniquePrefix('ctx'), keyContext: () => current };
      const { cache } = await suite.app(options);
      current = undefined;
      await cache.set('report', 'for background jobs');
      current = '';
      expect(await cache.get('report')).toBeUndefined();
      await cache.set('report', 'for the empty tenant');
      current = undefined;
      expect(await cache.get('report')).toBe('for background jobs');

      const { cache: other } = await suite.app(options); // empty L1: reads Redis
      current = '';
      expect(await other.get('report')).toBe('for the empty tenant');
      current = undefined;
      expect(await other.get('report')).toBe('for background jobs');
    });
  });
});
