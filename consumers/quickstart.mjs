// Reads the README's Quick start: the files marked `<!-- quickstart:file PATH -->` and the settings
// marked `<!-- quickstart:config FLAVOR FILE -->` (JSON merged into an app's package.json or
// tsconfig.json). The consumer apps compile and run exactly these, so the README cannot drift.
import { readFileSync } from 'node:fs';

const MARKER = /^[ \t]*<!-- quickstart:(file|config) ([^ ]+)(?: ([^ ]+))? -->[ \t]*\n[ \t]*```[a-z]*\n([\s\S]*?)\n[ \t]*```/gm;

/** @returns {{ files: Map<string, string>, configs: Map<string, Map<string, object>> }} */
export function readQuickstart(readmePath) {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf('\n## Quick start\n');
  if (start < 0) throw new Error(`${readmePath}: no "## Quick start" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);

  const files = new Map();
  const configs = new Map();
  for (const [, kind, a, b, body] of section.matchAll(MARKER)) {
    const indent = /^[ \t]*/.exec(body)[0];
    const text = body
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    if (kind === 'file') {
      files.set(a, `${text}\n`);
    } else {
      if (!b) throw new Error(`quickstart:config ${a} names no file`);
      if (!configs.has(a)) configs.set(a, new Map());
      try {
        configs.get(a).set(b, JSON.parse(text));
      } catch (err) {
        throw new Error(`README quickstart:config ${a} ${b} is not JSON: ${err.message}`);
      }
    }
  }
  const markers = section.match(/<!-- quickstart:/g)?.length ?? 0;
  if (markers !== files.size + [...configs.values()].reduce((n, m) => n + m.size, 0)) {
    throw new Error('README Quick start: a quickstart marker is not followed directly by a code fence');
  }
  if (!files.has('src/main.ts')) throw new Error('README Quick start: no <!-- quickstart:file src/main.ts --> block');
  return { files, configs };
}

/** Deep-merges plain objects; arrays and scalars from `patch` replace. */
export function merge(base, patch) {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? merge(base[k], v) : v;
  }
  return out;
}
