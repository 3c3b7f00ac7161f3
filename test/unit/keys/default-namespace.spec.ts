import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultNamespace } from '../../../lib/keys/default-namespace.util.js';

/** A fresh class named `name`, as two modules declaring `class <name> {}` each make. */
const classNamed = (name: string) => ({ [name]: class {} })[name]!;

describe('defaultNamespace', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the class name for the first class of that name', () => {
    expect(defaultNamespace(classNamed('InvoicesService'))).toBe('InvoicesService');
  });

  it('numbers later, different classes of the same name in definition order, and warns once per class', () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const first = classNamed('ReportsService');
    const second = classNamed('ReportsService');
    const third = classNamed('ReportsService');
    expect(defaultNamespace(first)).toBe('ReportsService');
    expect(warn).not.toHaveBeenCalled();
    expect(defaultNamespace(second)).toBe('ReportsService#2');
    expect(defaultNamespace(third)).toBe('ReportsService#3');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(String(warn.mock.calls[0]![0])).toMatch(/Another class is named ReportsService.*'ReportsService#2'.*namespace/);
  });

  it('gives a class the same namespace on every call (each decorated method asks)', () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const a = classNamed('UsersService');
    const b = classNamed('UsersService');
    expect([defaultNamespace(a), defaultNamespace(b), defaultNamespace(a), defaultNamespace(b)]).toEqual([
      'UsersService',
      'UsersService#2',
      'UsersService',
      'UsersService#2',
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('names a nameless class `anonymous`', () => {
    const nameless = classNamed('');
    expect(defaultNamespace(nameless)).toMatch(/^anonymous(#\d+)?$/);
  });
});
