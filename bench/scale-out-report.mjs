// Runs bench/scale-out.mjs (issue 7: a 3-primary Cluster against one Redis, its own servers) and
// adds its figures to bench/results.json and bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const run = spawnSync(process.execPath, [`${here}scale-out.mjs`], { encoding: 'utf8', timeout: 300_000 });
const out = run.stdout;
const jsonEnd = out.lastIndexOf('\n}\n');
if (run.status !== 0 || jsonEnd < 0) {
  process.stderr.write(`[bench] scale-out failed (${run.status}): ${run.stderr.slice(-2000)}\n`);
  process.exit(1);
}
const results = JSON.parse(out.slice(out.indexOf('{'), jsonEnd + 2));
const summary = out.slice(jsonEnd + 3).trim().split('\n');

const all = JSON.parse(readFileSync(`${here}results.json`, 'utf8'));
all.scaleOut = results;
writeFileSync(`${here}results.json`, JSON.stringify(all, null, 2) + '\n');

const md = [
  '',
  '## 8. Scale-out: a 3-primary Cluster against one Redis (issue 7)',
  '',
  `<sub>Command: \`npm run bench\` (bench/scale-out.mjs, its own servers: 3 primaries + 3 replicas, and one Redis, on loopback) · ${new Date().toISOString()} · Node ${process.version}</sub>`,
  '',
  'Both topologies run in alternating windows, so a busy machine slows both alike; ratios are cluster / standalone. Why classic pub/sub: [docs/scaling-out.md](../docs/scaling-out.md).',
  '',
  ...summary.map((l) => `- ${l}`),
  '',
];
writeFileSync(`${here}RESULTS.md`, readFileSync(`${here}RESULTS.md`, 'utf8').trimEnd() + '\n' + md.join('\n'));
process.stderr.write('[bench] scale-out: done\n');
