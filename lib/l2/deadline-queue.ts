/** A command waiting for Redis, with the time past which its caller stops waiting. */
export interface Deadline {
  /** `performance.now()` value past which `expire` runs. */
  readonly at: number;
  /** Set once the command answered or expired. */
  settled: boolean;
  expire: () => void;
  prev: Deadline | undefined;
  next: Deadline | undefined;
}

/**
 * Timeouts for many in-flight commands with one timer. Every command of a tier has the same
 * timeout, so deadlines arrive in push order: a doubly linked list, oldest first, where an
 * answered command unlinks itself at once (so nothing outlives its call), and the timer only
 * waits for the oldest. Cheaper than a setTimeout/clearTimeout pair per command.
 */
export class DeadlineQueue {
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  #timer: NodeJS.Timeout | undefined;

  push(d: Deadline): void {
    d.prev = this.#tail;
    d.next = undefined;
    if (this.#tail === undefined) this.#head = d;
    else this.#tail.next = d;
    this.#tail = d;
    if (this.#timer === undefined) this.#arm(d.at);
  }

  /** Unlinks an answered command. */
  remove(d: Deadline): void {
    const { prev, next } = d;
    if (prev === undefined) {
      if (this.#head !== d) return; // not in the queue (already expired)
      this.#head = next;
    } else {
      prev.next = next;
    }
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    d.prev = d.next = undefined;
  }

  #arm(at: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - performance.now())));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    let d = this.#head;
    while (d !== undefined && d.at <= now) {
      const next = d.next;
      this.remove(d);
      d.settled = true;
      d.expire();
      d = next;
    }
    if (this.#head !== undefined) this.#arm(this.#head.at);
  };
}
