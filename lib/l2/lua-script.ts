import { createHash } from 'node:crypto';

/** A Lua script and its SHA-1, for EVALSHA. */
export interface LuaScript {
  readonly body: string;
  readonly sha: string;
}

export function luaScript(body: string): LuaScript {
  return { body, sha: createHash('sha1').update(body).digest('hex') };
}
