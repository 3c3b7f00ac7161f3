import { sleep } from './app.js';

/**
 * A loader whose runs are counted and which returns `value` only once the test calls
 * `release()`: the test decides when a load ends, so interleavings need no timing.
 */
export class GatedLoader<T> {
  runs = 0;
  /** Resolves when the loader is first called. */
  readonly started: Promise<void>;
  /** Resolves once a run has returned its value (after `release()`). */
  readonly finished: Promise<void>;
  #start!: () => void;
  #open!: () => void;
  #finish!: () => void;
  readonly #gate: Promise<void>;

  constructor(private readonly value: T) {
    this.started = new Promise((r) => (this.#start = r));
    this.finished = new Promise((r) => (this.#finish = r));
    this.#gate = new Promise((r) => (this.#open = r));
  }

  readonly load = async (): Promise<T> => {
    this.runs++;
    this.#start();
    await this.#gate;
    this.#finish();
    return this.value;
  };

  release(): void {
    this.#open();
  }
}

/** How a call ended, or `'still pending'` if it had not by the time the guard ran out. */
export type Settlement<T> = { value: T } | { error: Error } | 'still pending';

/**
 * Waits for `call` to settle, at most `guardMs` (a bound that keeps a failing test short, not a
 * duration the test asserts).
 */
export async function settlement<T>(call: Promise<T>, guardMs = 3_000): Promise<Settlement<T>> {
  const settled = call.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  );
  return Promise.race([settled, sleep(guardMs).then(() => 'still pending' as const)]);
}

/** Lets every callback already due run (promise reactions and I/O completions), then resolves. */
export const nextTurn = () => new Promise<void>((r) => setImmediate(r));
