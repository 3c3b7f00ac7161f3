import { describe, expect, it } from 'vitest';
import { TieredCacheConfigError } from 'nestjs-tiered-cache';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import { withoutCredentials } from '../../sample-app/src/sample-app.config.js';

const SECRET = 'pa55-w0rd-never-shown';

describe('secrets in messages', () => {
  it('a redis option that is not a Redis URL is refused without repeating its password', () => {
    const bad = () => resolveOptions({ redis: `http://cache:${SECRET}@10.0.0.1:6379` });
    expect(bad).toThrow(TieredCacheConfigError);
    expect(bad).toThrow(/is not a Redis URL/);
    expect(bad).not.toThrow(new RegExp(SECRET));
  });

  it('the sample app logs its Redis URL with the user and password masked', () => {
    expect(withoutCredentials(`redis://cache:${SECRET}@127.0.0.1:6379/0`)).toBe('redis://***@127.0.0.1:6379/0');
    expect(withoutCredentials('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
