// The README is also the registry page, where relative links are dead: every link must be absolute
// (the repository's blob/main) or an anchor in the page.
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const relative = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((href) => !/^(https?:|mailto:|#)/.test(href));
if (relative.length > 0) {
  console.error(
    `README.md has relative links (dead on the npm page); use https://github.com/nestjs-tiered-cache/nestjs-tiered-cache/blob/main/<path>:\n  ${relative.join('\n  ')}`,
  );
  process.exit(1);
}
console.log('README links: all absolute');
