export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Stops traffic to Redis after `threshold` consecutive failures or timeouts, for `openFor`
 * milliseconds; then lets one probe through: its success closes the breaker, its failure opens it
 * again. Only the transitions closed → open → closed are reported (no log storm in an outage).
 */
export class CircuitBreaker {
  #failures = 0;
  #openUntil = 0;
  #probing = false;
  opens = 0;

  constructor(
    private readonly options: { threshold: number; openFor: number } | false,
    private readonly onOpen: (failures: number) => void,
    private readonly onClose: () => void,
  ) {}

  get state(): BreakerState {
    if (this.#openUntil === 0) return 'closed';
    return Date.now() < this.#openUntil || this.#probing ? 'open' : 'half-open';
  }

  /** Whether a command may be sent now. */
  allow(): boolean {
    if (this.#openUntil === 0) return true;
    if (Date.now() < this.#openUntil || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    if (this.#openUntil === 0) return;
    // A success while open (an invalidation sent past the breaker) closes it as a probe would.
    this.#openUntil = 0;
    this.#probing = false;
    this.onClose();
  }

  failure(): void {
    if (!this.options) return;
    this.#failures++;
    if (this.#probing) {
      this.#probing = false;
      this.#openUntil = Date.now() + this.options.openFor;
      return;
    }
    if (this.#openUntil === 0 && this.#failures >= this.options.threshold) {
      this.#openUntil = Date.now() + this.options.openFor;
      this.opens++;
      this.onOpen(this.#failures);
    }
  }
}
