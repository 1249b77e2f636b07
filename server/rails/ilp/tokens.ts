/**
 * Access tokens live minutes; a budget grant lives much longer. A call refused with 401 gets the
 * token rotated through its management URL and is tried once more. Two payments racing to rotate
 * the same token: the first one's new token is stored (only over the old value), the second's
 * rotation is refused (the old token is gone) and it takes the stored one.
 */
import { IlpCallError } from './client.js';
import type { IlpContext } from './context.js';
import { type GrantRow, loadGrant } from './store.js';

async function rotate(ctx: IlpContext, g: GrantRow): Promise<string> {
  try {
    const t = await ctx.op.rotateToken(g.manage_url, g.access_token);
    await ctx.db.run('UPDATE ilp_grants SET access_token = ?, manage_url = ?, updated_at = ? WHERE id = ? AND access_token = ?', [
      t.value,
      t.manage,
      ctx.clock.now(),
      g.id,
      g.access_token,
    ]);
    const now = await loadGrant(ctx.db, g.id);
    return now?.access_token ?? t.value;
  } catch (err) {
    const now = await loadGrant(ctx.db, g.id);
    if (now && now.access_token !== g.access_token) return now.access_token;
    throw err;
  }
}

/** Runs `f` with the grant's token, rotating it once if the wallet says it expired. */
export async function withToken<T>(ctx: IlpContext, g: GrantRow, f: (token: string) => Promise<T>): Promise<T> {
  try {
    return await f(g.access_token);
  } catch (err) {
    if (!(err instanceof IlpCallError && err.status === 401)) throw err;
    return f(await rotate(ctx, g));
  }
}
