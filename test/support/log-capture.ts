import type { LoggerService } from '@nestjs/common';

export interface LogLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  /** The message. */
  text: string;
  /** Everything else the logger was given (context, stack, objects), as text. */
  extra: string[];
}

/**
 * A Nest logger that keeps every line (with its level) instead of printing it: give it to
 * `Test.createTestingModule(...).setLogger(logs)` to read what the app logged, bootstrap included.
 */
export class LogCapture implements LoggerService {
  readonly lines: LogLine[] = [];

  log(message: unknown, ...rest: unknown[]): void {
    this.#keep('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.#keep('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.#keep('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.#keep('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.#keep('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.#keep('fatal', message, rest);
  }

  /** Lines of `level` (any level if omitted) whose text matches `pattern`. */
  matching(pattern: RegExp, level?: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => (level === undefined || l.level === level) && pattern.test(l.text));
  }

  /** Everything logged, one line each, as `LEVEL text`: for scanning and for failure messages. */
  get text(): string {
    return this.lines.map((l) => [l.level.toUpperCase(), l.text, ...l.extra].join(' ')).join('\n');
  }

  #keep(level: LogLine['level'], message: unknown, rest: unknown[]): void {
    // Everything a logger receives counts (error objects with their stacks, extra parameters):
    // a secret in any of them would reach a real log.
    this.lines.push({ level, text: asText(message), extra: rest.map(asText) });
  }
}

function asText(p: unknown): string {
  if (p instanceof Error) return `${p.message}\n${p.stack}`;
  return typeof p === 'string' ? p : JSON.stringify(p);
}
