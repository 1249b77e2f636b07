/**
 * Settings: the EVM networks and tokens the wallet may pay x402 `exact` entries in
 * (common/networks.ts). The list lives in local storage and this page edits it directly; each
 * change reads the stored list afresh, so a token the approval window switched on a moment ago is
 * kept. Everything new starts off: a network or token added here pays nothing until it is turned
 * on. The hub's own SOVR chain comes from the hub (GET /rails, in session storage) and is shown
 * read-only: it is not in the list and cannot be removed here.
 */
import { useState } from 'preact/hooks';
import { KEYS, RailsView } from '../common/state.js';
import { t } from '../common/i18n.js';
import {
  DEFAULT_NETWORKS,
  enableToken,
  NETWORKS_KEY,
  type NetworkSetting,
  NetworkSettings,
  readNetworks,
  type TokenSetting,
} from '../common/networks.js';
import { useStoredEntry, useStoredValue } from '../common/page.js';
import {
  dailyLimitText,
  type NetworkFields,
  readDailyLimit,
  readNetworkForm,
  readRpcUrl,
  readTokenForm,
  type TokenFields,
} from './network-form.js';

type Change = (list: NetworkSettings) => NetworkSettings;
type Apply = (change: Change, done: string) => Promise<void>;

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const short = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;

function onNetwork(chainId: number, f: (n: NetworkSetting) => NetworkSetting | null): Change {
  return (list) => list.flatMap((n) => (n.chainId !== chainId ? [n] : (f(n) ?? [])));
}

function onToken(chainId: number, address: string, f: (x: TokenSetting) => TokenSetting | null): Change {
  return onNetwork(chainId, (n) => ({ ...n, tokens: n.tokens.flatMap((x) => (sameAddress(x.address, address) ? (f(x) ?? []) : [x])) }));
}

export function Networks() {
  const stored = useStoredEntry(NETWORKS_KEY);
  const rails = RailsView.safeParse(useStoredValue(KEYS.rails, 'session'));
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const [confirmReset, setConfirmReset] = useState(false);
  if (!stored.loaded) return null;
  const networks = readNetworks(stored.value);
  const hubChain = rails.success ? rails.data.info.rails.find((r) => r.name === 'sovr') : undefined;

  const apply: Apply = async (change, done) => {
    try {
      const got = await chrome.storage.local.get(NETWORKS_KEY);
      await chrome.storage.local.set({ [NETWORKS_KEY]: NetworkSettings.parse(change(readNetworks(got[NETWORKS_KEY]))) });
      setStatus({ text: done, error: false });
    } catch (e) {
      setStatus({ text: t('networks_not_saved', e instanceof Error ? e.message : String(e)), error: true });
    }
  };

  return (
    <section class="stack" aria-labelledby="networks-title" data-testid="networks">
      <h2 id="networks-title">{t('networks_title')}</h2>
      <p class="hint">{t('networks_intro')}</p>
      <ul class="list networks">
        {hubChain && hubChain.name === 'sovr' && (
          <li data-testid="network-hub" class="stack-sm">
            <h3 class="cluster">
              {t('networks_hub_chain', hubChain.chainId)} <span class="chip chip-info">{t('networks_from_hub')}</span>
            </h3>
            <p class="hint">{t('networks_hub_chain_text')}</p>
            <dl class="small">
              <dt>{t('networks_token_address')}</dt>
              <dd class="mono">{hubChain.token}</dd>
              <dt>{t('networks_eip712')}</dt>
              <dd>{t('networks_eip712_value', hubChain.eip712.name, hubChain.eip712.version)}</dd>
            </dl>
          </li>
        )}
        {networks.map((n) => (
          // Keyed by what its fields start from, so a reset or another page's change shows in them.
          <NetworkItem key={`${n.chainId}:${n.rpcUrl ?? ''}`} network={n} apply={apply} />
        ))}
      </ul>
      {!networks.length && <p class="callout callout-info">{t('networks_none')}</p>}
      <details data-testid="add-network">
        <summary>{t('networks_add_network')}</summary>
        <AddNetwork networks={networks} apply={apply} />
      </details>
      <div class="actions">
        {confirmReset ? (
          <div class="callout callout-warn stack-sm">
            <p id="reset-question">{t('networks_reset_question')}</p>
            <div class="cluster">
              <button
                type="button"
                class="btn-danger"
                onClick={() => {
                  setConfirmReset(false);
                  void apply(() => DEFAULT_NETWORKS, t('networks_reset_done'));
                }}
              >
                {t('networks_reset_confirm')}
              </button>
              <button type="button" onClick={() => setConfirmReset(false)}>
                {t('networks_cancel')}
              </button>
            </div>
          </div>
        ) : (
          <button type="button" onClick={() => setConfirmReset(true)}>
            {t('networks_reset')}
          </button>
        )}
      </div>
      <p role="status" data-testid="networks-status" class={status?.error ? 'error-text' : undefined}>
        {status?.text}
      </p>
    </section>
  );
}

function NetworkItem({ network: n, apply }: { network: NetworkSetting; apply: Apply }) {
  const [rpc, setRpc] = useState(n.rpcUrl ?? '');
  const [rpcError, setRpcError] = useState<string | null>(null);
  const id = `net-${n.chainId}`;
  const saveRpc = (e: Event) => {
    e.preventDefault();
    const read = readRpcUrl(rpc, t);
    if (!read.ok) return setRpcError(read.error);
    setRpcError(null);
    void apply(
      onNetwork(n.chainId, ({ rpcUrl: _old, ...rest }) => ({ ...rest, ...(read.value ? { rpcUrl: read.value } : {}) })),
      read.value ? t('networks_rpc_saved', n.name) : t('networks_rpc_removed', n.name),
    );
  };
  return (
    <li data-testid={`network-${n.chainId}`} class="stack-sm">
      <h3 class="cluster">
        {n.name} <span class="chip">{t('networks_chain_id', n.chainId)}</span>
      </h3>
      <label class="inline">
        <input
          type="checkbox"
          checked={n.enabled}
          data-testid={`network-on-${n.chainId}`}
          onChange={(e) => {
            const on = e.currentTarget.checked;
            void apply(
              onNetwork(n.chainId, (x) => ({ ...x, enabled: on })),
              on ? t('networks_network_on', n.name) : t('networks_network_off', n.name),
            );
          }}
        />{' '}
        {t('networks_pay_on', n.name)}
      </label>
      {n.explorer && (
        <p class="small">
          {t('networks_explorer')}:{' '}
          <a href={n.explorer} target="_blank" rel="noreferrer">
            {n.explorer}
          </a>
        </p>
      )}
      <form class="row" onSubmit={saveRpc} aria-label={t('networks_rpc_form', n.name)}>
        <label for={`${id}-rpc`} class="inline">
          {t('networks_rpc_url')}
        </label>
        <input
          id={`${id}-rpc`}
          type="url"
          placeholder="https://"
          value={rpc}
          aria-invalid={rpcError ? 'true' : undefined}
          aria-describedby={`${id}-rpc-hint`}
          onInput={(e) => setRpc(e.currentTarget.value)}
        />
        <button type="submit" class="btn-sm">
          {t('networks_save')}
        </button>
      </form>
      <p id={`${id}-rpc-hint`} class={rpcError ? 'error-text small' : 'hint'}>
        {rpcError ?? t('networks_rpc_hint')}
      </p>
      {n.tokens.length ? (
        <ul class="list tokens">
          {n.tokens.map((x) => (
            <TokenItem key={`${x.address}:${x.dailyLimit ?? ''}`} network={n} token={x} apply={apply} />
          ))}
        </ul>
      ) : (
        <p class="hint">{t('networks_no_tokens')}</p>
      )}
      <details data-testid={`add-token-${n.chainId}`}>
        <summary>{t('networks_add_token', n.name)}</summary>
        <AddToken network={n} apply={apply} />
      </details>
      <div>
        <button
          type="button"
          class="btn-sm btn-danger"
          onClick={() =>
            void apply(
              onNetwork(n.chainId, () => null),
              t('networks_network_removed', n.name),
            )
          }
        >
          {t('networks_remove_network', n.name)}
        </button>
      </div>
    </li>
  );
}

function TokenItem({ network: n, token: x, apply }: { network: NetworkSetting; token: TokenSetting; apply: Apply }) {
  const [limit, setLimit] = useState(dailyLimitText(x.dailyLimit, x.decimals));
  const [limitError, setLimitError] = useState<string | null>(null);
  const id = `tok-${n.chainId}-${x.address.toLowerCase()}`;
  const saveLimit = (e: Event) => {
    e.preventDefault();
    const read = readDailyLimit(limit, x.decimals, t);
    if (!read.ok) return setLimitError(read.error);
    setLimitError(null);
    void apply(
      onToken(n.chainId, x.address, ({ dailyLimit: _old, ...rest }) => ({ ...rest, ...(read.value ? { dailyLimit: read.value } : {}) })),
      read.value ? t('networks_limit_saved', limit.trim(), x.symbol) : t('networks_limit_removed', x.symbol),
    );
  };
  const what = t('networks_token_on_network', x.symbol, n.name);
  return (
    <li data-testid={`token-${n.chainId}-${x.address.toLowerCase()}`} class="stack-sm">
      <label class="inline">
        <input
          type="checkbox"
          checked={x.enabled && n.enabled}
          onChange={(e) => {
            const on = e.currentTarget.checked;
            // On: the network goes on with it (a token is paid only when both are).
            void apply(
              on ? (list) => enableToken(list, n.chainId, x.address) : onToken(n.chainId, x.address, (y) => ({ ...y, enabled: false })),
              on ? t('networks_token_on', what) : t('networks_token_off', what),
            );
          }}
        />{' '}
        {t('networks_allow', what)}
      </label>
      <dl class="small">
        <dt>{t('networks_token_address')}</dt>
        <dd class="mono" title={x.address}>
          {short(x.address)}
        </dd>
        <dt>{t('networks_decimals')}</dt>
        <dd>{x.decimals}</dd>
        <dt>{t('networks_eip712')}</dt>
        <dd>{t('networks_eip712_value', x.eip712.name, x.eip712.version)}</dd>
      </dl>
      <form class="row" onSubmit={saveLimit} aria-label={t('networks_limit_form', what)}>
        <label for={`${id}-limit`} class="inline">
          {t('networks_daily_limit', x.symbol)}
        </label>
        <input
          id={`${id}-limit`}
          type="text"
          inputMode="decimal"
          placeholder={t('networks_no_limit')}
          value={limit}
          aria-invalid={limitError ? 'true' : undefined}
          aria-describedby={`${id}-limit-hint`}
          onInput={(e) => setLimit(e.currentTarget.value)}
        />
        <button type="submit" class="btn-sm">
          {t('networks_save')}
        </button>
      </form>
      <p id={`${id}-limit-hint`} class={limitError ? 'error-text small' : 'hint'}>
        {limitError ?? t('networks_limit_hint', x.symbol)}
      </p>
      <div>
        <button
          type="button"
          class="btn-sm"
          onClick={() =>
            void apply(
              onToken(n.chainId, x.address, () => null),
              t('networks_token_removed', what),
            )
          }
        >
          {t('networks_remove_token', what)}
        </button>
      </div>
    </li>
  );
}

/** A labelled text field with its error below it, tied together for screen readers. */
function Field(props: { id: string; label: string; value: string; error?: string; hint?: string; onInput: (v: string) => void }) {
  const note = props.error ?? props.hint;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        value={props.value}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={note ? `${props.id}-note` : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {note && (
        <p id={`${props.id}-note`} class={props.error ? 'error-text small' : 'hint'}>
          {note}
        </p>
      )}
    </div>
  );
}

const EMPTY_NETWORK: Record<NetworkFields, string> = { chainId: '', name: '', explorer: '', rpcUrl: '' };

function AddNetwork({ networks, apply }: { networks: NetworkSettings; apply: Apply }) {
  const [form, setForm] = useState(EMPTY_NETWORK);
  const [errors, setErrors] = useState<Partial<Record<NetworkFields, string>>>({});
  const set = (k: NetworkFields) => (v: string) => setForm({ ...form, [k]: v });
  const submit = (e: Event) => {
    e.preventDefault();
    const read = readNetworkForm(form, networks, t);
    if (!read.ok) return setErrors(read.errors);
    setErrors({});
    setForm(EMPTY_NETWORK);
    void apply((list) => [...list, read.value], t('networks_network_added', read.value.name));
  };
  return (
    <form onSubmit={submit} aria-label={t('networks_add_network')} noValidate>
      <Field id="new-net-chain" label={t('networks_field_chain_id')} value={form.chainId} error={errors.chainId} onInput={set('chainId')} />
      <Field id="new-net-name" label={t('networks_field_name')} value={form.name} error={errors.name} onInput={set('name')} />
      <Field
        id="new-net-explorer"
        label={t('networks_field_explorer')}
        value={form.explorer}
        error={errors.explorer}
        onInput={set('explorer')}
      />
      <Field
        id="new-net-rpc"
        label={t('networks_field_rpc_url')}
        value={form.rpcUrl}
        error={errors.rpcUrl}
        hint={t('networks_rpc_hint')}
        onInput={set('rpcUrl')}
      />
      <button type="submit">{t('networks_add_network_button')}</button>
    </form>
  );
}

const EMPTY_TOKEN: Record<TokenFields, string> = { address: '', symbol: '', decimals: '', eip712Name: '', eip712Version: '' };

function AddToken({ network: n, apply }: { network: NetworkSetting; apply: Apply }) {
  const [form, setForm] = useState(EMPTY_TOKEN);
  const [errors, setErrors] = useState<Partial<Record<TokenFields, string>>>({});
  const set = (k: TokenFields) => (v: string) => setForm({ ...form, [k]: v });
  const id = `new-tok-${n.chainId}`;
  const submit = (e: Event) => {
    e.preventDefault();
    const read = readTokenForm(form, n, t);
    if (!read.ok) return setErrors(read.errors);
    setErrors({});
    setForm(EMPTY_TOKEN);
    void apply(
      onNetwork(n.chainId, (x) => ({ ...x, tokens: [...x.tokens, read.value] })),
      t('networks_token_added', t('networks_token_on_network', read.value.symbol, n.name)),
    );
  };
  return (
    <form onSubmit={submit} aria-label={t('networks_add_token', n.name)} noValidate>
      <Field
        id={`${id}-address`}
        label={t('networks_field_address')}
        value={form.address}
        error={errors.address}
        onInput={set('address')}
      />
      <Field id={`${id}-symbol`} label={t('networks_field_symbol')} value={form.symbol} error={errors.symbol} onInput={set('symbol')} />
      <Field
        id={`${id}-decimals`}
        label={t('networks_field_decimals')}
        value={form.decimals}
        error={errors.decimals}
        onInput={set('decimals')}
      />
      <Field
        id={`${id}-eip712-name`}
        label={t('networks_field_eip712_name')}
        value={form.eip712Name}
        error={errors.eip712Name}
        hint={t('networks_eip712_hint')}
        onInput={set('eip712Name')}
      />
      <Field
        id={`${id}-eip712-version`}
        label={t('networks_field_eip712_version')}
        value={form.eip712Version}
        error={errors.eip712Version}
        onInput={set('eip712Version')}
      />
      <button type="submit">{t('networks_add_token_button')}</button>
    </form>
  );
}
