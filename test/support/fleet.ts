import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../fixtures/fleet-worker.mjs', import.meta.url));

/** One instance of the fleet: a separate OS process running a Nest application context. */
export class FleetInstance {
  #next = 0;
  readonly #pending = new Map<number, (m: any) => void>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: any) => {
      const resolve = this.#pending.get(m.id);
      if (resolve) {
        this.#pending.delete(m.id);
        resolve(m);
      }
    });
  }

  /** `redis`: a URL, or a redis option passed as JSON (`{ cluster: [...] }`, `{ sentinels, name }`). */
  /**
   * @param counterUrl where loaders count their runs (an admin connection when `redis` logs in as
   *   a least-privilege user); default: `redis` itself.
   */
  static async start(redis: string | object, keyPrefix: string, options: object = {}, counterUrl?: string): Promise<FleetInstance> {
    const arg = typeof redis === 'string' ? redis : JSON.stringify(redis);
    const args = [arg, keyPrefix, JSON.stringify(options), ...(counterUrl === undefined ? [] : [counterUrl])];
    const child = fork(WORKER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`fleet worker exited with ${code} before it was ready`)));
    });
    return new FleetInstance(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  send<T = any>(cmd: string, msg: object = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, resolve);
      this.child.once('exit', () => reject(new Error(`instance ${this.pid} exited during ${cmd}`)));
      this.child.send({ id, cmd, ...msg });
    });
  }

  /** Ends the process with a real signal (SIGKILL: no cleanup, its lease stays until it expires). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill(signal);
    return exited;
  }

  /** Asks the instance to close its app and exit; kills it if it does not within 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
