/**
 * Linking a person's wallet address: the hub fetches it as any Open Payments client would and
 * keeps it only if it can pay from it: a wallet address document that the specification allows,
 * an asset the hub keeps at a scale it can express, and an auth server it can ask for grants.
 */
import type { WalletAddress } from '@interledger/open-payments';
import type { IlpWallet } from '../../../shared/ilp.js';
import { ProblemError } from '../../../shared/problem.js';
import { ASSET_NAMES } from '../../../shared/assets.js';
import { checkWebhookTarget } from '../../notify/webhooks-target.js';
import type { OpenPayments } from './client.js';
import { deleteWallet, loadWallet, saveWallet, type WalletRow } from './store.js';
import { usableAsset } from './units.js';
import type { Db } from '../../store/types.js';
import type { Clock } from '../../clock.js';

const isHttp = (s: string) => {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
};

/**
 * Fetches a wallet address and says what makes it unusable, if anything. `problem` is the code a
 * refusal carries: the payer's own wallet and a payee's are refused differently.
 */
export async function fetchWallet(
  op: OpenPayments,
  url: string,
  problem: 'ilp-wallet-unusable' | 'ilp-payee-unusable',
  whose: string,
  allowPrivate: boolean,
): Promise<WalletAddress> {
  // People name the addresses the hub fetches: none may reach into the hub's own network.
  const reachable = async (u: string, what: string) => {
    const c = await checkWebhookTarget(u, { allowPrivate });
    if (!c.ok) throw new ProblemError(problem, `${whose} ${what} cannot be used: ${c.reason.replace(/^webhook URL /, '')}`);
  };
  await reachable(url, 'wallet address');
  let wa: WalletAddress;
  try {
    wa = await op.walletAddress(url);
  } catch (err) {
    throw new ProblemError(
      problem,
      `${whose} wallet address ${url} could not be read as an Open Payments wallet address: ${(err as Error).message}`,
    );
  }
  if (!usableAsset(wa.assetCode, wa.assetScale)) {
    throw new ProblemError(
      problem,
      `${whose} wallet holds ${wa.assetCode} at scale ${wa.assetScale}; this hub keeps ${ASSET_NAMES.join(', ')}, at a scale no finer than its base unit`,
    );
  }
  if (!isHttp(wa.authServer) || !isHttp(wa.resourceServer))
    throw new ProblemError(problem, `${whose} wallet address names no usable auth server or resource server`);
  await reachable(wa.authServer, 'auth server');
  await reachable(wa.resourceServer, 'resource server');
  return wa;
}

const toIlpWallet = (w: WalletRow): IlpWallet => ({
  walletAddress: w.wallet_address,
  publicName: w.public_name,
  assetCode: w.asset_code,
  assetScale: w.asset_scale,
  authServer: w.auth_server,
  linkedAt: new Date(w.linked_at).toISOString(),
});

export function createWalletLinks(deps: { db: Db; clock: Clock; op: OpenPayments; allowPrivate: boolean }) {
  return {
    async link(userId: string, url: string): Promise<IlpWallet> {
      const wa = await fetchWallet(deps.op, url, 'ilp-wallet-unusable', 'your', deps.allowPrivate);
      const row: WalletRow = {
        user_id: userId,
        // The address as the wallet names itself: grants and payments name it so.
        wallet_address: wa.id,
        public_name: wa.publicName ?? null,
        asset_code: wa.assetCode,
        asset_scale: wa.assetScale,
        auth_server: wa.authServer,
        resource_server: wa.resourceServer,
        linked_at: deps.clock.now(),
      };
      await deps.db.transaction((tx) => saveWallet(tx, row));
      return toIlpWallet(row);
    },
    async get(userId: string): Promise<IlpWallet | undefined> {
      const w = await loadWallet(deps.db, userId);
      return w && toIlpWallet(w);
    },
    unlink: (userId: string) => deps.db.transaction((tx) => deleteWallet(tx, userId)),
  };
}
