/**
 * The worker's side of the person's networks and tokens (common/networks.ts): the approval window's
 * "Enable USDC on Base", once the person confirmed it there, and the balance the window shows for
 * a network with an RPC URL. Only the extension's own pages reach these (index.ts checks the
 * sender), so no site can switch a token on. Writes go through one queue: the settings page and the
 * window may both change the list, and each change starts from what is stored now.
 */
import type { T } from '../common/i18n.js';
import { enableToken, matchToken, NETWORKS_KEY, NetworkSettings, readNetworks } from '../common/networks.js';
import { KEYS, UnlockedKey } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { tokenBalance } from './evm-balance.js';
import { createSerial } from './serial.js';

export interface NetworksDeps {
  t: T;
  local: StorageArea;
  session: StorageArea;
  fetch: typeof fetch;
}

export function createNetworks(deps: NetworksDeps) {
  const { t } = deps;
  const serial = createSerial();

  async function list(): Promise<NetworkSettings> {
    return readNetworks((await deps.local.get(NETWORKS_KEY))[NETWORKS_KEY]);
  }

  /** Switches one listed token (and its network) on; a token not in the list is refused, never added. */
  async function enable(chainId: number, token: string): Promise<void> {
    await serial(async () => {
      const networks = await list();
      if (matchToken(networks, `eip155:${chainId}`, token).kind === 'unknown') throw new Error(t('worker_token_not_listed'));
      await deps.local.set({ [NETWORKS_KEY]: NetworkSettings.parse(enableToken(networks, chainId, token)) });
    });
  }

  /** The unlocked wallet's balance of a listed token, in base units, from the network's RPC URL. */
  async function balance(chainId: number, token: string): Promise<string> {
    const networks = await list();
    const network = networks.find((n) => n.chainId === chainId);
    if (!network || matchToken(networks, `eip155:${chainId}`, token).kind === 'unknown') throw new Error(t('worker_token_not_listed'));
    if (!network.rpcUrl) throw new Error(t('worker_no_rpc_url'));
    const key = UnlockedKey.safeParse((await deps.session.get(KEYS.unlocked))[KEYS.unlocked]);
    if (!key.success) throw new Error(t('worker_wallet_locked'));
    return (await tokenBalance(deps.fetch, t, { rpcUrl: network.rpcUrl, token, owner: key.data.address })).toString();
  }

  return { enable, balance };
}
