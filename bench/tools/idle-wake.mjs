// The floor of scenario 7's wake-up with raw ioredis: N subscriber processes wait on a channel; a
// publisher sleeps <idleMs> (the "loader"), publishes, and each subscriber then GETs a key and
// reports when the reply came. Prints p50/p99 of (reply time − publish time) in ms, per idle time.
// Same clock: performance.timeOrigin + performance.now() in every process.
//   node bench/tools/idle-wake.mjs <redisUrl> [procs=4] [rounds=20] [idle ms list=50,500]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const now = () => performance.timeOrigin + performance.now();
const [url, procsArg = '4', roundsArg = '20', idleArg = '50,500'] = process.argv.slice(2);
if (url === 'child') {
  const redisUrl = procsArg;
  const sub = new Redis(redisUrl);
  const cmd = new Redis(redisUrl);
  await sub.subscribe('wake');
  sub.on('message', async () => {
    await cmd.get('wake:key');
    process.send(now());
  });
  process.send('ready');
} else {
  const here = fileURLToPath(import.meta.url);
  const procs = Number(procsArg);
  const pub = new Redis(url);
  await pub.set('wake:key', 'x'.repeat(1000));
  const kids = Array.from({ length: procs }, () => fork(here, ['child', url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))));
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  for (const idle of idleArg.split(',').map(Number)) {
    const lat = [];
    for (let r = 0; r < Number(roundsArg); r++) {
      await new Promise((res) => setTimeout(res, idle));
      const replies = kids.map((k) => new Promise((res) => k.once('message', res)));
      const t0 = now();
      await pub.publish('wake', '1');
      for (const t of await Promise.all(replies)) lat.push(t - t0);
    }
    console.log(`idle ${idle} ms: publish → GET reply in ${procs} processes, p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms (${lat.length} samples)`);
  }
  for (const k of kids) k.kill();
  await pub.quit();
}
