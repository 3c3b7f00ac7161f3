#!/usr/bin/env node
// Writes bench/MUTATION.md from StrykerJS's JSON report (reports/mutation/all.json, or the files
// given): the score per file and every surviving mutant, with the reason it survives where
// scripts/mutation-reasons.json names one (matched by file and line text).
//   node scripts/mutation-report.mjs [report.json ...]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const inputs = process.argv.slice(2).length ? process.argv.slice(2) : ['reports/mutation/all.json'];
const reasons = existsSync('scripts/mutation-reasons.json') ? JSON.parse(readFileSync('scripts/mutation-reasons.json', 'utf8')) : [];

const files = {};
for (const input of inputs) Object.assign(files, JSON.parse(readFileSync(input, 'utf8')).files);

const KILLED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
const rows = [];
const survivors = [];
let killed = 0;
let counted = 0;
for (const [path, f] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
  const lines = f.source.split('\n');
  const c = { killed: 0, survived: 0, noCov: 0, timeout: 0 };
  for (const m of f.mutants) {
    if (!COUNTED.has(m.status)) continue;
    counted++;
    if (KILLED.has(m.status)) killed++;
    if (m.status === 'Killed') c.killed++;
    else if (m.status === 'Timeout') c.timeout++;
    else if (m.status === 'Survived') c.survived++;
    else c.noCov++;
    if (m.status === 'Survived' || m.status === 'NoCoverage') {
      const line = lines[m.location.start.line - 1] ?? '';
      const reason = reasons.find(
        (r) =>
          (r.file === undefined || path.endsWith(r.file)) &&
          (r.line === undefined || line.includes(r.line)) &&
          (r.mutator === undefined || r.mutator === m.mutatorName),
      );
      survivors.push({ path, line: m.location.start.line, mutator: m.mutatorName, status: m.status, code: line.trim(), replacement: m.replacement, reason });
    }
  }
  const total = c.killed + c.timeout + c.survived + c.noCov;
  rows.push(`| ${path} | ${total ? ((100 * (c.killed + c.timeout)) / total).toFixed(1) : '–'}% | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCov} |`);
}

const score = ((100 * killed) / counted).toFixed(1);
const byReason = new Map();
for (const s of survivors) {
  const k = s.reason?.kind ?? 'unclassified';
  byReason.set(k, (byReason.get(k) ?? 0) + 1);
}
const clip = (s, n) => (s.length > n ? `${s.slice(0, n)}…` : s).replace(/\|/g, '\\|').replace(/`/g, "'");
const md = [
  '# Mutation testing (StrykerJS)',
  '',
  'StrykerJS mutates `lib/engine/`, `lib/options/` and `lib/keys/` and runs, for each mutant, the unit specs',
  '(`test/unit/**`, without the real-Redis Keyv spec) and the in-memory property suites',
  '(`test/properties/interleavings*.spec.ts`) that cover it: `vitest.stryker.config.ts`, `stryker.config.mjs`.',
  'The property suites run a fixed seed and `PROPERTY_RUNS` runs per property (stryker.config.mjs).',
  '',
  `**Mutation score: ${score}%** (${killed} killed or timed out of ${counted}; ${survivors.length} survive or are not covered).`,
  '',
  'Command: `npm run stryker` (then `node scripts/mutation-report.mjs`).',
  '',
  '| File | Score | Killed | Timeout | Survived | No coverage |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
  '## Why the survivors survive',
  '',
  ...[...byReason].sort((a, b) => b[1] - a[1]).map(([k, n]) => `- **${k}**: ${n}`),
  '',
  '## Every survivor',
  '',
  '| File:line | Mutator | Code | Mutated to | Status | Reason |',
  '| --- | --- | --- | --- | --- | --- |',
  ...survivors.map(
    (s) =>
      `| ${s.path.replace(/^lib\//, '')}:${s.line} | ${s.mutator} | \`${clip(s.code, 90)}\` | \`${clip(s.replacement ?? '', 60)}\` | ${s.status} | ${s.reason ? `${s.reason.kind}: ${s.reason.why}` : ''} |`,
  ),
  '',
].join('\n');
writeFileSync('bench/MUTATION.md', md);
console.log(`mutation score ${score}% (${killed}/${counted}), ${survivors.length} survivors; wrote bench/MUTATION.md`);
