/**
 * The service worker: wires browser events to the approval flow, the hub session, live status and
 * the retry with the proof. Chrome may stop this worker at any moment and start it again for the
 * next event, so listeners are registered synchronously at the top level, and every piece of state
 * lives in chrome.storage, never in these variables.
 */
import { hashMessage, SigningKey } from 'ethers';
import { io } from 'socket.io-client';
import browser, { type Runtime } from 'webextension-polyfill';
import { PageMessage, type Reply } from '../common/messages.js';
import { t } from '../common/i18n.js';
import { KEYS } from '../common/state.js';
import { ILP_CONSENT_KEY, ILP_KEY } from '../common/ilp.js';
import { loadRequestList } from '../common/storage.js';
import { pageError, ProviderMessage, type ProviderReply } from '../common/provider-messages.js';
// `.iife.ts` + `?script`: crxjs builds each as one self-contained file and gives its path in dist/.
import bridgeScript from '../content/bridge.iife.ts?script';
import providerScript from '../provider/inpage.iife.ts?script';
import { createApprovalWindow, type WindowsApi } from './approval-window.js';
import { createApprovals } from './approvals.js';
import { createAuth } from './auth.js';
import { createBudgets } from './budgets.js';
import { createDepositClient } from './deposit-client.js';
import { createDailyLimits } from './evm-limit.js';
import { createEvmPayer } from './evm-pay.js';
import { createEvmRecovery } from './evm-recover.js';
import { createEvmSettlement, paymentResponseOf } from './evm-settle.js';
import { createEvmSigner } from './evm-sign.js';
import { NETWORKS_KEY, readNetworks } from '../common/networks.js';
import { createDeposits } from './deposits.js';
import { exportCsv } from './export.js';
import { providerMatches } from './host-access.js';
import { createPasses } from './passes.js';
import { challengeOf, fetchReask, notice, WATCHED_TYPES, type HeadersReceived } from './detect.js';
import { createHubApi, HubError } from './hub-api.js';
import { createHubClient } from './hub-client.js';
import { createHoldings } from './holdings.js';
import { createReminders, REMINDER_PREFIX } from './reminders.js';
import { absoluteTime, relativeTime } from '../common/holdings.js';
import { createIlp } from './ilp.js';
import { createIlpApi } from './ilp-api.js';
import { createIlpConsent, type ConsentWindowsApi } from './ilp-consent.js';
import { createLive } from './live.js';
import { createNetworks } from './networks.js';
import { createProofRetry, type DnrApi } from './proof.js';
import { createProvider, registerProviderScripts, type ScriptingApi } from './provider.js';
import { createRails } from './rails.js';
import { createSerial } from './serial.js';
import { createAuthorizationSigner } from './sign.js';
import { createTopups } from './topups.js';

const RESUME_ALARM = 'tollway.resume';
const REFRESH_ALARM = 'tollway.refresh';
const PROOF_SWEEP_ALARM = 'tollway.proofSweep';
const EXPIRY_ALARM = 'tollway.expiry';
const DEPOSITS_ALARM = 'tollway.deposits';
const SLOT_REMINDER_ALARM = 'tollway.slotReminder';
const APPROVE_PAGE = 'extension/approve/index.html';
const ICON = 'extension/icons/icon-128.png';

const workerFetch: typeof fetch = (input, init) => fetch(input, init);
const api = createHubApi({ fetch: workerFetch, t });

const auth = createAuth({
  t,
  local: browser.storage.local,
  session: browser.storage.session,
  api,
  sign: async (privateKey, message) => new SigningKey(privateKey).sign(hashMessage(message)).serialized,
  scheduleRefresh: async (at) => {
    if (at === null) await browser.alarms.clear(REFRESH_ALARM);
    else await browser.alarms.create(REFRESH_ALARM, { when: at });
  },
  onChange: (s) => {
    void (s ? live.start() : live.signedOut()).catch((e: unknown) => console.error('tollway: live status', e));
    // Signed in (again): payments that waited for a session go on, with their own keys.
    if (s) void approvals.resume().catch((e: unknown) => console.error('tollway: resume', e));
    if (s) void deposits.resume().catch((e: unknown) => console.error('tollway: deposits', e));
    if (s) void budgets.sync().catch((e: unknown) => console.error('tollway: budgets', e));
    // What the hub can pay with (the SOVR rail and what to sign for it), read afresh at every sign-in.
    if (s) void rails.sync().catch((e: unknown) => console.error('tollway: rails', e));
    if (s) void evmSettlement.resume().catch((e: unknown) => console.error('tollway: settlements', e));
    if (s) void ilp.sync().catch((e: unknown) => console.error('tollway: interledger wallet', e));
    // Signed out or locked: the budgets shown and the passes kept (bearer proofs) go too, and the
    // hub's rails (read again at the next sign-in): a locked wallet keeps nothing in session, not
    // even the list of Interledger consent pages opened (a page left open is not reopened later).
    else void browser.storage.session.remove([KEYS.budgets, KEYS.passes, KEYS.rails, ILP_KEY, ILP_CONSENT_KEY, KEYS.slotTokens]);
  },
});

const live = createLive({
  session: browser.storage.session,
  api,
  current: () => auth.current(),
  open: (url, authFn) => io(url, { transports: ['websocket'], auth: authFn, reconnectionDelayMax: 30_000 }),
  onUpdate: (u) => void approvals.paymentUpdated(u).catch((e: unknown) => console.error('tollway: payment update', e)),
  onTopup: (u) => void topups.applyUpdate(u).catch((e: unknown) => console.error('tollway: top-up', e)),
  // The hub's word is a hint: the deposit list reads the deposit back (GET /deposits/:id) now.
  onDeposit: (u) => void deposits.heard(u.depositId).catch((e: unknown) => console.error('tollway: deposits', e)),
});

const topups = createTopups({
  t,
  local: browser.storage.local,
  fetch: workerFetch,
  session: () => auth.current(),
  onCredited: () => live.sync(),
});

const proof = createProofRetry({
  dnr: chrome.declarativeNetRequest as unknown as DnrApi,
  session: browser.storage.session,
  reload: (tabId) => browser.tabs.reload(tabId),
  navigate: async (tabId, url) => void (await browser.tabs.update(tabId, { url })),
  tabUrl: async (tabId) => {
    const tab = (await browser.tabs.get(tabId)) as { url?: string; pendingUrl?: string };
    return tab.pendingUrl ?? tab.url;
  },
  scheduleSweep: async (at) => browser.alarms.create(PROOF_SWEEP_ALARM, { when: at + 1000 }),
});

const budgets = createBudgets({ t, session: browser.storage.session, api, current: () => auth.current() });
const passes = createPasses({ session: browser.storage.session });
const networkSettings = createNetworks({ t, local: browser.storage.local, session: browser.storage.session, fetch: workerFetch });
const rails = createRails({ session: browser.storage.session, api, current: () => auth.current() });
const ilp = createIlp({ t, session: browser.storage.session, api: createIlpApi({ fetch: workerFetch, t }), current: () => auth.current() });
const notifyPerson = async ({ title, message }: { title: string; message: string }) =>
  void (await chrome.notifications.create({ type: 'basic', iconUrl: browser.runtime.getURL(ICON), title, message, priority: 0 }));
const ilpConsent = createIlpConsent({
  t,
  windows: browser.windows as unknown as ConsentWindowsApi,
  session: browser.storage.session,
  notify: notifyPerson,
});

/** The origin a tab shows, as the browser says (only for sites Tollway may access; else null). */
async function tabOrigin(tabId: number): Promise<string | null> {
  const tab = (await browser.tabs.get(tabId)) as { url?: string };
  return originOrNull(tab.url);
}

function originOrNull(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

// x402 `exact` entries on any EVM network the person enabled, signed from the wallet (evm-pay.ts).
const evmPayer = createEvmPayer({
  t,
  networks: async () => readNetworks((await browser.storage.local.get(NETWORKS_KEY))[NETWORKS_KEY]),
  limits: createDailyLimits({ local: browser.storage.local }),
  sign: createEvmSigner({ session: browser.storage.session, t }),
  wallet: async () => (await auth.current())?.user?.address ?? null,
});

const approvals = createApprovals({
  t,
  evm: evmPayer,
  local: browser.storage.local,
  budgets,
  tabOrigin,
  passes,
  rails,
  signAuthorization: createAuthorizationSigner({ session: browser.storage.session, t }),
  reapply: (pass, seen) => proof.reapply(seen.tabId, seen.url, pass.header, pass.transactionId),
  lookupPayment: (s, id) =>
    api.payment(s, id).catch((e: unknown) => (e instanceof HubError && e.status === 404 ? null : Promise.reject(e))),
  notify: async ({ title, message }) =>
    void (await chrome.notifications.create({ type: 'basic', iconUrl: browser.runtime.getURL(ICON), title, message, priority: 0 })),
  hub: createHubClient({ fetch: workerFetch, t }),
  session: () => auth.current(),
  onCompleted: async (r) => void (await proof.retry(r)),
  onFinished: (requests) => {
    provider.finished(requests);
    holdings.finished(requests);
    void ilpConsent.finished(requests).catch((e: unknown) => console.error('tollway: consent page', e));
  },
  ilpWallet: () => ilp.wallet(),
  window: createApprovalWindow({
    windows: browser.windows as unknown as WindowsApi,
    session: browser.storage.session,
    url: browser.runtime.getURL(APPROVE_PAGE),
  }),
  setBadge: (text) => browser.action.setBadgeText({ text }),
  scheduleResume: async () => browser.alarms.create(RESUME_ALARM, { delayInMinutes: 0.5 }),
  scheduleExpiry: async (at) => {
    if (at === null) await browser.alarms.clear(EXPIRY_ALARM);
    else await browser.alarms.create(EXPIRY_ALARM, { when: at });
  },
});

const deposits = createDeposits({
  t,
  local: browser.storage.local,
  client: createDepositClient({ fetch: workerFetch, t }),
  session: () => auth.current(),
  rails,
  sign: createAuthorizationSigner({ session: browser.storage.session, t }),
  scheduleWake: async () => browser.alarms.create(DEPOSITS_ALARM, { delayInMinutes: 0.5 }),
  // The hub balance changed: the popup shows the account as the worker last read it.
  onCompleted: () => live.sync(),
});

// The site's PAYMENT-RESPONSE for a wallet-rail payment, reported to the hub (evm-settle.ts).
const evmSettlement = createEvmSettlement({
  t,
  local: browser.storage.local,
  fetch: workerFetch,
  session: () => auth.current(),
  onPayment: (p) => approvals.paymentUpdated(p),
});

// Settlements the worker missed, asked of the chain when the person gave the network an RPC URL.
const evmRecovery = createEvmRecovery({
  t,
  local: browser.storage.local,
  fetch: workerFetch,
  networks: async () => readNetworks((await browser.storage.local.get(NETWORKS_KEY))[NETWORKS_KEY]),
  report: (paymentId, report) => evmSettlement.report(paymentId, report),
});
/** After the worker starts or wakes: unsent settlement reports first, then the chain for those never seen. */
const settleMissed = () => evmSettlement.resume().then(() => evmRecovery.run());

const provider = createProvider({ session: () => auth.current(), add: (seen) => approvals.add(seen) });

// Slots held at sites' slots APIs, their renewal through the queue, and the reminder a day before expiry.
const holdings = createHoldings({
  t,
  local: browser.storage.local,
  session: browser.storage.session,
  fetch: workerFetch,
  add: (seen) => approvals.add(seen),
  hubSession: () => auth.current(),
  lookupPayment: (s, id) =>
    api.payment(s, id).catch((e: unknown) => (e instanceof HubError && e.status === 404 ? null : Promise.reject(e))),
  onChange: () => reminders.run(),
});
const reminders = createReminders({
  t,
  update: (change) => holdings.update(change),
  notify: async (id, { title, message }) =>
    void (await chrome.notifications.create(id, { type: 'basic', iconUrl: browser.runtime.getURL(ICON), title, message, priority: 1 })),
  schedule: async (at) => {
    if (at === null) await browser.alarms.clear(SLOT_REMINDER_ALARM);
    else await browser.alarms.create(SLOT_REMINDER_ALARM, { when: at });
  },
  when: (at, now) => `${relativeTime(at, now, browser.i18n.getUILanguage())} (${absoluteTime(at, browser.i18n.getUILanguage())})`,
});

const reask = fetchReask(workerFetch);

type HeadersDetails = Parameters<Parameters<typeof browser.webRequest.onHeadersReceived.addListener>[0]>[0];

function onHeaders(details: HeadersDetails): void {
  if (details.tabId >= 0 && paymentResponseOf(details.responseHeaders))
    void evmSettlement.observed(details).catch((e: unknown) => console.error('tollway: settlement', e));
  // The reload carried a proof (whatever the answer): the rule has done its work. Which rules went
  // tells whether a 402 now answers a proof, so that it is asked about, never paid or reused again.
  const used = details.type === 'main_frame' && details.tabId >= 0 ? proof.used(details.tabId, details.url) : Promise.resolve([]);
  const noticed = notice({ ...details, initiator: (details as { initiator?: string }).initiator } as HeadersReceived);
  if (!noticed) {
    void used.catch((e: unknown) => console.error('tollway: proof rule', e));
    return;
  }
  void Promise.all([used.catch(() => []), challengeOf(noticed, reask)])
    .then(async ([rules, seen]) => {
      if (!seen) return;
      for (const r of rules) if (r.passId) await passes.spend(r.passId);
      // A signed authorization the site refused (no settlement in its answer): the hub records the failure first.
      if (rules.some((r) => !r.passId) && !paymentResponseOf(details.responseHeaders))
        await evmSettlement.refused({ tabId: seen.tabId, url: seen.url, serverError: seen.challenge.x402?.serverError });
      await approvals.add(rules.length ? { ...seen, afterProof: true } : seen);
    })
    .catch((e: unknown) => console.error('tollway: could not queue a 402', e));
}

/**
 * (Re)adds the 402 listener. Chrome only delivers events for hosts the extension may access, and a
 * listener added before a host was granted does not hear that host until it is added again.
 */
function listen402(): void {
  browser.webRequest.onHeadersReceived.removeListener(onHeaders);
  browser.webRequest.onHeadersReceived.addListener(onHeaders, { urls: ['<all_urls>'], types: WATCHED_TYPES }, [
    'responseHeaders',
    'extraHeaders',
  ] as never);
}
listen402();

const scriptsSerial = createSerial();
/** The provider goes where host access goes (one change at a time: a grant and a removal may race). */
const followHostAccess = () =>
  scriptsSerial(async () => {
    const granted = (await browser.permissions.getAll()).origins ?? [];
    await registerProviderScripts(
      chrome.scripting as unknown as ScriptingApi,
      { provider: providerScript, bridge: bridgeScript },
      providerMatches(granted),
    );
  });

function hostAccessChanged(): void {
  listen402();
  void followHostAccess().catch((e: unknown) => console.error('tollway: could not register the in-page provider', e));
}
browser.permissions.onAdded.addListener(hostAccessChanged);
browser.permissions.onRemoved.addListener(hostAccessChanged);

/** 10 SOVR from a dev-mode hub's faucet; a production hub has no such route and says 404. */
async function testMoney(): Promise<void> {
  const session = await auth.current();
  if (!session) throw new Error(t('worker_sign_in_first'));
  try {
    await api.faucet(session, 'SOVR', (10n * 10n ** 18n).toString());
  } catch (e) {
    if (e instanceof HubError && e.status === 404) throw new Error(t('worker_no_faucet'));
    throw e;
  }
  await live.sync();
}

/** The consent page of a payment from the Interledger wallet that still waits for the person's answer. */
async function showConsent(transactionId: string): Promise<void> {
  const r = (await loadRequestList(browser.storage.local, KEYS.history)).find((x) => x.result?.transactionId === transactionId);
  if (!r || !(await ilpConsent.show(r, Date.now()))) throw new Error(t('worker_ilp_no_consent'));
}

async function exportPayments(): Promise<string> {
  const session = await auth.current();
  if (!session) throw new Error(t('worker_sign_in_first'));
  return exportCsv(api, session, t);
}

function act(m: PageMessage): Promise<unknown> {
  switch (m.type) {
    case 'approval.decide':
      return approvals.decide(m.id, m.approve, m.budget, {
        ...(m.payFrom ? { from: m.payFrom } : {}),
        ...(m.window ? { window: m.window } : {}),
      });
    case 'approval.rejectAll':
      return approvals.rejectAll();
    case 'auth.signIn':
      return auth.signIn(m.hubUrl);
    case 'auth.signOut':
      return auth.signOut();
    case 'wallet.lock':
      return auth.lock();
    case 'account.sync':
      return Promise.all([live.sync(), budgets.sync().catch(() => undefined), topups.refresh().catch(() => undefined)]);
    case 'dev.faucet':
      return testMoney();
    case 'budget.sync':
      return budgets.sync();
    case 'budget.put':
      return budgets.put({ site: m.site, payee: m.payee, asset: m.asset, amount: m.amount, period: m.period });
    case 'budget.delete':
      return budgets.remove(m.site, m.payee, m.asset);
    case 'payments.export':
      return exportPayments().then((csv) => ({ csv }));
    case 'access.changed':
      return Promise.resolve(hostAccessChanged());
    case 'deposit.create':
      return deposits.create(m.amount, m.window).then(() => undefined);
    case 'ilp.sync':
      return ilp.sync();
    case 'ilp.link':
      return ilp.link(m.walletAddress).then(() => undefined);
    case 'ilp.unlink':
      return ilp.unlink();
    case 'ilp.revoke':
      return ilp.revoke(m.grantId);
    case 'ilp.consent':
      return showConsent(m.transactionId);
    case 'networks.enable':
      return networkSettings.enable(m.chainId, m.token);
    case 'evm.balance':
      return networkSettings.balance(m.chainId, m.token).then((balance) => ({ balance }));
    case 'holdings.refresh':
      return holdings.refresh();
    case 'holdings.renew':
      return holdings.renew(m.key);
    case 'topup.create':
      return topups.create(m.amount).then((topup) => {
        if (topup?.status === 'failed') throw new Error(topup.error ?? t('worker_hub_refused'));
      });
  }
}

browser.runtime.onMessage.addListener((message: unknown, sender: Runtime.MessageSender): Promise<Reply> | undefined => {
  // Only this extension's own pages ask; content scripts run inside web pages.
  if (sender.id !== browser.runtime.id || !sender.url?.startsWith(browser.runtime.getURL('/'))) return undefined;
  const parsed = PageMessage.safeParse(message);
  if (!parsed.success) return Promise.resolve({ ok: false, error: 'unknown message' });
  return act(parsed.data).then(
    (v): Reply => ({
      ok: true,
      ...(v && typeof v === 'object' && 'csv' in v && typeof v.csv === 'string' ? { csv: v.csv } : {}),
      ...(v && typeof v === 'object' && 'balance' in v && typeof v.balance === 'string' ? { balance: v.balance } : {}),
    }),
    (e: unknown): Reply => ({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});

/** The in-page provider's bridge (a content script inside a web page) asks to pay. */
browser.runtime.onMessage.addListener(
  (message: unknown, sender: Runtime.MessageSender): Promise<ProviderReply | { ok: true }> | undefined => {
    const tabId = sender.tab?.id;
    if (sender.id !== browser.runtime.id || tabId === undefined || tabId < 0 || !sender.url) return undefined;
    // The extension's own pages are answered above.
    if (sender.url.startsWith(browser.runtime.getURL('/'))) return undefined;
    const parsed = ProviderMessage.safeParse(message);
    if (!parsed.success) return undefined;
    if (parsed.data.type === 'provider.ping') return Promise.resolve({ ok: true });
    if (parsed.data.type === 'provider.slot') {
      const origin = (sender as { origin?: string }).origin ?? originOrNull(sender.url);
      if (!origin) return Promise.resolve({ ok: true });
      const { tokenId, slotId, title } = parsed.data;
      return holdings.reported({ origin, url: sender.url, title: sender.tab?.title ?? title }, { tokenId, slotId }).then(
        () => ({ ok: true }) as const,
        (e: unknown) => {
          console.error('tollway: slot', e);
          return { ok: true } as const;
        },
      );
    }
    let origin: string;
    try {
      origin = (sender as { origin?: string }).origin ?? new URL(sender.url).origin;
    } catch {
      return Promise.resolve({ ok: false, error: 'unknown page' });
    }
    // The tab's own URL from the browser, for the window; the page's arguments never name the site.
    return provider.pay(parsed.data, { tabId, origin, url: sender.url, tabOrigin: originOrNull(sender.tab?.url) }).then(
      (result): ProviderReply => ({ ok: true, result }),
      (e: unknown): ProviderReply => ({ ok: false, error: pageError(e) }),
    );
  },
);

browser.windows.onRemoved.addListener((windowId) => void approvals.windowRemoved(windowId));
// A token enabled (the window's button, settings) or a daily limit changed: waiting requests are planned again.
browser.storage.onChanged.addListener((changes, area) => {
  if (area === 'local' && NETWORKS_KEY in changes) void approvals.replanEvm().catch((e: unknown) => console.error('tollway: networks', e));
});
browser.tabs.onRemoved.addListener((tabId) => void proof.sweep(tabId));
browser.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === RESUME_ALARM) void approvals.resume().then(settleMissed);
  else if (alarm.name === REFRESH_ALARM) void auth.refresh();
  else if (alarm.name === PROOF_SWEEP_ALARM) void proof.sweep();
  else if (alarm.name === EXPIRY_ALARM) void approvals.expire();
  else if (alarm.name === DEPOSITS_ALARM) void deposits.resume();
  else if (alarm.name === SLOT_REMINDER_ALARM) void reminders.run();
});
// A slot's reminder opens the page the slot was bought on.
chrome.notifications.onClicked.addListener((id) => {
  if (!id.startsWith(REMINDER_PREFIX)) return;
  const key = id.slice(REMINDER_PREFIX.length);
  void holdings
    .load()
    .then(async (list) => {
      const h = list.find((x) => x.key === key);
      if (h) await browser.tabs.create({ url: h.page });
      await chrome.notifications.clear(id);
    })
    .catch((e: unknown) => console.error('tollway: slot reminder', e));
});
browser.runtime.onStartup.addListener(() => void approvals.browserStarted());
browser.runtime.onInstalled.addListener((details) => {
  if (details.reason === 'install') void browser.runtime.openOptionsPage();
});

void browser.action.setBadgeBackgroundColor({ color: '#b45309' });
// Every start of the worker (install, update, wake-up): replay payments left in flight, drop stale
// proof rules, and listen to the hub again.
void approvals
  .resume()
  .then(settleMissed)
  .catch((e: unknown) => console.error('tollway: settlements', e));
void deposits.resume();
void loadRequestList(browser.storage.local, KEYS.history)
  .then((history) => ilpConsent.resume(history, Date.now()))
  .catch((e: unknown) => console.error('tollway: consent page', e));
void holdings
  .resume()
  .then(() => reminders.run())
  .catch((e: unknown) => console.error('tollway: slots held', e));
void proof.sweep();
void followHostAccess().catch((e: unknown) => console.error('tollway: could not register the in-page provider', e));
void live.start().catch((e: unknown) => console.error('tollway: live status', e));
