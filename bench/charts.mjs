#!/usr/bin/env node
// Renders the benchmark results as SVG charts (Vega-Lite compiled to Vega, rendered headlessly by
// vega.View#toSVG) into bench/charts/: one chart of ratios against the floor per scenario and
// library (bench/results.json), and the capacity curves (bench/capacity.json). Run by `npm run bench`;
// alone: node bench/charts.mjs (needs bench/node_modules: cd bench && npm ci --legacy-peer-deps).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import * as vl from 'vega-lite';

const here = fileURLToPath(new URL('.', import.meta.url));
const OUT = `${here}charts/`;
const COLORS = { ours: '#2f6fb5', peer: '#9aa3ad', reference: '#c9a227', floor: '#444444', model: '#d1495b', measured: '#2f6fb5' };
const FONT = 'Helvetica, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, anchor: 'start', subtitleFontSize: 11, subtitleColor: '#555', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  view: { stroke: null },
};

async function render(name, spec) {
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(`${OUT}${name}.svg`, svg + '\n');
  return `${name}.svg`;
}

const short = (lib) => lib.replace('nestjs-tiered-cache', 'ours');
const TITLES = {
  'l1-hit': 'L1 hit: throughput against an awaited raw lru-cache get',
  'l2-hit': 'L2 hit: throughput against ioredis GET + JSON.parse (100 in flight)',
  miss: 'Miss then set: throughput against ioredis GET, loader, SET',
  http: 'HTTP (Nest + Fastify): cached endpoint against a constant one',
  memory: 'Memory: heap for 100 000 cached ~1 KB entries against raw lru-cache (lower is better)',
};

// ---------------------------------------------------------------------------------------------- scenarios
async function scenarioCharts(results) {
  const written = [];
  const meta = results.meta ?? {};
  const runLine = `Run ${meta.date?.slice(0, 10) ?? '?'} · Node ${meta.node ?? '?'} · ${meta.cpus ?? '?'} shared cores · Redis ${meta.redis ?? '?'} · from bench/results.json`;
  const byScenario = new Map();
  for (const r of results.results ?? []) {
    if (!byScenario.has(r.scenario)) byScenario.set(r.scenario, []);
    byScenario.get(r.scenario).push(r);
  }
  for (const [scenario, rows] of byScenario) {
    const withRatio = rows.filter((r) => Number.isFinite(r.ratioToFloor) && r.kind !== 'floor');
    if (withRatio.length) {
      const goal = (results.goals ?? []).find((g) => g.scenario === scenario && typeof g.target === 'number' && /floor|raw lru-cache|constant/.test(g.goal));
      const lower = scenario === 'memory';
      const data = withRatio.map((r) => ({ library: short(r.library), kind: r.kind, ratio: r.ratioToFloor, label: r.ratioToFloor.toFixed(r.ratioToFloor < 0.1 ? 3 : 2) }));
      const order = [...data].sort((a, b) => (lower ? a.ratio - b.ratio : b.ratio - a.ratio)).map((d) => d.library);
      const layers = [
        {
          mark: { type: 'bar', height: { band: 0.75 } },
          encoding: {
            y: { field: 'library', type: 'nominal', sort: order, title: null, axis: { labelLimit: 420 } },
            x: { field: 'ratio', type: 'quantitative', title: lower ? 'heap / raw lru-cache heap' : 'ratio to the floor (1 = as fast as the floor)' },
            color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['ours', 'peer', 'reference'], range: [COLORS.ours, COLORS.peer, COLORS.reference] } },
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#222' },
          encoding: { y: { field: 'library', type: 'nominal', sort: order }, x: { field: 'ratio', type: 'quantitative' }, text: { field: 'label' } },
        },
        { data: { values: [{ x: 1, t: lower ? 'raw lru-cache' : 'floor' }] }, mark: { type: 'rule', color: COLORS.floor, strokeWidth: 1.5 }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      ];
      if (goal) {
        layers.push({
          data: { values: [{ x: goal.target, t: `goal ${goal.target}` }] },
          layer: [
            { mark: { type: 'rule', color: COLORS.model, strokeDash: [5, 4], strokeWidth: 1.5 }, encoding: { x: { field: 'x', type: 'quantitative' } } },
            { mark: { type: 'text', color: COLORS.model, align: 'left', dx: 3, baseline: 'top', y: 0, fontSize: 10 }, encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 't' } } },
          ],
        });
      }
      written.push(
        await render(`ratio-${scenario}`, {
          title: { text: TITLES[scenario] ?? scenario, subtitle: runLine },
          width: 560,
          height: { step: 22 },
          data: { values: data },
          layer: layers,
        }),
      );
    }
    const stampede = rows.filter((r) => Number.isFinite(r.loaderCalls) && scenario.startsWith('stampede'));
    if (stampede.length) {
      const data = stampede.map((r) => ({ library: short(r.library), kind: r.kind, calls: r.loaderCalls }));
      const order = [...data].sort((a, b) => a.calls - b.calls).map((d) => d.library);
      written.push(
        await render(`loader-calls-${scenario}`, {
          title: { text: `Cold-key stampede (${scenario === 'stampede-4proc' ? '4 processes × 250 callers' : '1 000 callers, one process'}): loader calls (1 is the goal)`, subtitle: runLine },
          width: 520,
          height: { step: 22 },
          data: { values: data },
          layer: [
            {
              mark: 'bar',
              encoding: {
                y: { field: 'library', type: 'nominal', sort: order, title: null, axis: { labelLimit: 420 } },
                x: { field: 'calls', type: 'quantitative', title: 'loader calls per cold key (max over repetitions)' },
                color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['ours', 'peer', 'reference'], range: [COLORS.ours, COLORS.peer, COLORS.reference] } },
              },
            },
            { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { y: { field: 'library', type: 'nominal', sort: order }, x: { field: 'calls', type: 'quantitative' }, text: { field: 'calls' } } },
          ],
        }),
      );
    }
  }
  return written;
}

// ---------------------------------------------------------------------------------------------- capacity
async function capacityCharts(cap) {
  const written = [];
  const sub = `Zipf 1 M keys (s = ${cap.workload.s}), ${Math.round((1 - cap.workload.writeShare) * 100)}% reads / ${Math.round(cap.workload.writeShare * 100)}% writes · ${cap.config.warm} + ${cap.config.measured} requests per instance from a cold start · ${cap.meta.date.slice(0, 10)} · points measured, lines the model`;
  const runs = cap.runs;
  const sizes = [...new Set(runs.map((r) => r.N))].sort((a, b) => a - b);
  const xN = { field: 'N', type: 'quantitative', title: 'instances (processes)', scale: { type: 'log', base: 2, domain: [Math.min(...sizes) * 0.85, Math.max(...sizes) * 1.18], nice: false }, axis: { values: sizes, format: 'd' } };

  // 1. Tier shares against the fleet size, per l1.max (standalone).
  const tierRows = [];
  for (const r of runs.filter((x) => x.topology === 'standalone')) {
    for (const [tier, key] of [['L1 hit', 'l1'], ['L2 hit', 'l2'], ['load', 'load']]) {
      tierRows.push({ N: r.N, l1: `l1.max ${r.l1Max.toLocaleString('en-US')}`, tier, measured: r.tiers[key], model: r.model?.tiers[key] });
    }
  }
  if (tierRows.length) {
    written.push(
      await render('capacity-tiers', {
        title: { text: 'Where reads are served, by fleet size and L1 size (one Redis)', subtitle: sub },
        data: { values: tierRows },
        facet: { column: { field: 'l1', type: 'nominal', title: null, sort: { field: 'N' } } },
        spec: {
          width: 210,
          height: 220,
          layer: [
            { mark: { type: 'line', strokeWidth: 2 }, encoding: { x: xN, y: { field: 'model', type: 'quantitative', title: 'share of reads', axis: { format: '%' }, scale: { domain: [0, 1] } }, color: { field: 'tier', type: 'nominal', title: null, scale: { range: ['#2f6fb5', '#55a868', '#d1495b'] } } } },
            { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: xN, y: { field: 'measured', type: 'quantitative' }, color: { field: 'tier', type: 'nominal' }, shape: { field: 'tier', type: 'nominal', title: null } } },
          ],
        },
        resolve: { scale: { x: 'shared' } },
      }),
    );
  }

  // 2. Redis CPU per 1 000 requests against the fleet size (standalone; Cluster: all primaries and the busiest).
  const cpuRows = [];
  for (const r of runs) {
    const series = r.topology === 'standalone' ? 'one Redis' : 'Cluster, 3 primaries (sum)';
    cpuRows.push({ N: r.N, l1Max: r.l1Max, series, measured: r.perRequest.cpuUs * 1000, model: r.model?.perRequest.cpuUs * 1000 });
    if (r.topology === 'cluster') cpuRows.push({ N: r.N, l1Max: r.l1Max, series: 'Cluster, busiest primary', measured: r.perRequest.busiestNodeCpuUs * 1000, model: null });
  }
  const l1Ref = runs.some((r) => r.l1Max === 1000) ? 1000 : runs[0]?.l1Max;
  const cpuSel = cpuRows.filter((x) => x.l1Max === l1Ref);
  if (cpuSel.length) {
    const yCpu = { type: 'quantitative', title: 'Redis CPU µs per 1 000 requests' };
    written.push(
      await render('capacity-redis-cpu', {
        title: { text: `Redis CPU per 1 000 requests by fleet size (l1.max ${l1Ref.toLocaleString('en-US')})`, subtitle: [sub.replace('lines the model', 'dashed lines the model'), 'one core at 100% serves 1 000 000 / (µs per 1 000 requests) × 1 000 requests/s'] },
        width: 560,
        height: 300,
        data: { values: cpuSel },
        layer: [
          { mark: { type: 'line', strokeDash: [5, 4] }, encoding: { x: xN, y: { field: 'model', ...yCpu }, color: { field: 'series', type: 'nominal', title: null, scale: { range: ['#2f6fb5', '#d1495b', '#e58e35'] } } } },
          { mark: { type: 'line', point: { filled: true, size: 60 } }, encoding: { x: xN, y: { field: 'measured', ...yCpu }, color: { field: 'series', type: 'nominal' } } },
        ],
      }),
    );
  }

  // 3. Commands, bytes and bus deliveries per request against the fleet size (standalone).
  const perRows = [];
  for (const r of runs.filter((x) => x.topology === 'standalone' && x.l1Max === l1Ref)) {
    const m = r.model?.perRequest;
    perRows.push({ N: r.N, metric: 'Redis commands / request', measured: r.perRequest.commands, model: m?.commands });
    perRows.push({ N: r.N, metric: 'KB in + out / request', measured: (r.perRequest.inBytes + r.perRequest.outBytes) / 1000, model: m ? (m.inBytes + m.outBytes) / 1000 : null });
    perRows.push({ N: r.N, metric: 'bus deliveries / request', measured: r.perRequest.messagesPublished * (r.bus.receivedPerMessage + 1), model: m?.deliveries });
  }
  if (perRows.length) {
    written.push(
      await render('capacity-per-request', {
        title: { text: `Redis traffic per request by fleet size (one Redis, l1.max ${l1Ref.toLocaleString('en-US')})`, subtitle: sub },
        data: { values: perRows },
        facet: { column: { field: 'metric', type: 'nominal', title: null } },
        spec: {
          width: 200,
          height: 200,
          layer: [
            { mark: { type: 'line', color: COLORS.model, strokeWidth: 2 }, encoding: { x: xN, y: { field: 'model', type: 'quantitative', title: null } } },
            { mark: { type: 'point', filled: true, size: 60, color: COLORS.measured }, encoding: { x: xN, y: { field: 'measured', type: 'quantitative' } } },
          ],
        },
        resolve: { scale: { y: 'independent' } },
      }),
    );
  }

  // 4. Steady-state saturation (model): fleet requests/s one Redis core can serve.
  if (cap.model?.saturation?.length) {
    const rows = cap.model.saturation.map((x) => ({ N: x.N, l1: `l1.max ${x.l1Max.toLocaleString('en-US')}`, rate: x.rateFitted ?? x.rate }));
    const ns = [...new Set(rows.map((x) => x.N))];
    written.push(
      await render('capacity-saturation', {
        title: {
          text: 'Model: fleet requests/s at which one Redis core is busy (steady state)',
          subtitle: [`L2 TTL ${cap.model.steady.l2TtlMs / 1000} s, L1 TTL ${cap.model.steady.l1TtlMs / 1000} s; per-class Redis CPU calibrated on this machine${cap.model.cpuFactor ? ` × ${cap.model.cpuFactor.toFixed(2)} (measured / model, median of the measured points)` : ''}`, 'the fall with fleet size is the bus: every write and every fill reaches every instance'],
        },
        width: 560,
        height: 300,
        data: { values: rows },
        mark: { type: 'line', point: { filled: true } },
        encoding: {
          x: { field: 'N', type: 'quantitative', title: 'instances', scale: { type: 'log', base: 2 }, axis: { values: ns, format: 'd' } },
          y: { field: 'rate', type: 'quantitative', title: 'requests/s (whole fleet)', axis: { format: '~s' } },
          color: { field: 'l1', type: 'nominal', title: null, sort: null },
        },
      }),
    );
  }
  return written;
}

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.svg')) rmSync(`${OUT}${f}`);
const written = [];
if (existsSync(`${here}results.json`)) written.push(...(await scenarioCharts(JSON.parse(readFileSync(`${here}results.json`, 'utf8')))));
if (existsSync(`${here}capacity.json`)) written.push(...(await capacityCharts(JSON.parse(readFileSync(`${here}capacity.json`, 'utf8')))));
process.stderr.write(`[charts] wrote ${written.length} charts in bench/charts/: ${written.join(', ')}\n`);
