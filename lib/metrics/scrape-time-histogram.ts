/** A histogram's state, already cumulative, in the unit the metric is named after. */
export interface HistogramState {
  /** Upper bounds of the finite buckets, ascending. */
  bounds: readonly number[];
  /** `cumulativeCounts[i]`: observations <= `bounds[i]`. */
  cumulativeCounts: readonly number[];
  /** All observations (the `+Inf` bucket). */
  count: number;
  sum: number;
}

/**
 * A Prometheus histogram whose state is read from elsewhere at scrape time, for a prom-client
 * `Registry`. prom-client's own `Histogram` can only `observe()` one value at a time; the cache
 * keeps its own buckets, so this exposes them as they are, with nothing done on the hot path.
 *
 * It duck-types prom-client's metric contract (`name`, `help`, `type`, `aggregator`, `get()`,
 * `reset()`), which `Registry` reads for both the Prometheus and OpenMetrics formats and for
 * `getMetricsAsJSON()` (cluster aggregation).
 */
export class ScrapeTimeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => HistogramState,
  ) {}

  async get() {
    const { bounds, cumulativeCounts, count, sum } = this.read();
    const bucket = `${this.name}_bucket`;
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = bounds.map((le, i) => ({
      metricName: bucket,
      labels: { le },
      value: cumulativeCounts[i] ?? count,
    }));
    values.push(
      { metricName: bucket, labels: { le: '+Inf' }, value: count },
      { metricName: `${this.name}_sum`, labels: {}, value: sum },
      { metricName: `${this.name}_count`, labels: {}, value: count },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing to reset: the values belong to the cache (`Registry.resetMetrics()` calls this). */
  reset(): void {}
}
