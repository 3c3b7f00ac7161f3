import { Logger } from '@nestjs/common';

const assigned = new WeakMap<object, string>();
const classesNamed = new Map<string, number>();
const logger = new Logger('TieredCache');

/**
 * The namespace of a class's default keys and of `@CacheEvict({ allEntries: true })`: the class
 * name for the first class of that name, `Name#2`, `Name#3`, … for later, different classes of
 * the same name, numbered in the order their decorators run (class-definition order, the same in
 * every process running the same code). Two classes named `ReportsService` (say, one in an admin
 * module) would otherwise share entries: one's `find(1)` would answer the other's. A class that
 * gets a number is warned about once, because the number depends on load order: give its
 * decorators a `namespace` so its keys do not move when another class of that name is added.
 * A nameless class (`class {}` assigned nowhere) is `anonymous`.
 */
export function defaultNamespace(ctor: object): string {
  const known = assigned.get(ctor);
  if (known !== undefined) return known;
  const name = typeof (ctor as { name?: unknown }).name === 'string' && (ctor as { name: string }).name !== '' ? (ctor as { name: string }).name : 'anonymous';
  const n = (classesNamed.get(name) ?? 0) + 1;
  classesNamed.set(name, n);
  const namespace = n === 1 ? name : `${name}#${n}`;
  assigned.set(ctor, namespace);
  if (n > 1) {
    logger.warn(
      `Another class is named ${name}: the default keys of this one use the namespace '${namespace}' ` +
        '(numbered in class-definition order) so the two never share entries. ' +
        `Give its @Cacheable/@CacheEvict a namespace (e.g. { namespace: '${name}V2' }) or rename the class, ` +
        'so its keys do not depend on load order.',
    );
  }
  return namespace;
}
