/** How a read was answered. */
export type ReadOutcome =
  /** From this instance's memory. */
  | 'l1'
  /** From Redis. */
  | 'l2'
  /** A stale value in its grace period (a refresh runs in the background). */
  | 'stale'
  /** This call ran the loader. */
  | 'load'
  /** Another instance's load, waited for through the fleet lease. */
  | 'fleet'
  /** Joined a load already in flight in this process. */
  | 'coalesced';
