/**
 * The service worker: wires browser events to the approval flow. Chrome may stop this worker at any
 * moment and start it again for the next event, so listeners are registered synchronously at the
 * top level, and every piece of state lives in chrome.storage, never in these variables.
 */
import browser, { type Runtime } from 'webextension-polyfill';
import { PageMessage, type Reply } from '../common/messages.js';
import { createApprovalWindow, type WindowsApi } from './approval-window.js';
import { createApprovals } from './approvals.js';
import { challengeOf, fetchReask, notice, WATCHED_TYPES, type HeadersReceived } from './detect.js';
import { createHubClient } from './hub-client.js';

const RESUME_ALARM = 'tollway.resume';
const APPROVE_PAGE = 'extension/approve/index.html';

const approvals = createApprovals({
  local: browser.storage.local,
  hub: createHubClient({ fetch: (input, init) => fetch(input, init) }),
  window: createApprovalWindow({
    windows: browser.windows as unknown as WindowsApi,
    session: browser.storage.session,
    url: browser.runtime.getURL(APPROVE_PAGE),
  }),
  setBadge: (text) => browser.action.setBadgeText({ text }),
  scheduleResume: async () => browser.alarms.create(RESUME_ALARM, { delayInMinutes: 0.5 }),
});

const reask = fetchReask((input, init) => fetch(input, init));

browser.webRequest.onHeadersReceived.addListener(
  (details) => {
    const noticed = notice({ ...details, initiator: (details as { initiator?: string }).initiator } as HeadersReceived);
    if (!noticed) return;
    void challengeOf(noticed, reask)
      .then((seen) => (seen ? approvals.add(seen) : undefined))
      .catch((e: unknown) => console.error('tollway: could not queue a 402', e));
  },
  { urls: ['<all_urls>'], types: WATCHED_TYPES },
  ['responseHeaders', 'extraHeaders'] as never,
);

browser.runtime.onMessage.addListener((message: unknown, sender: Runtime.MessageSender): Promise<Reply> | undefined => {
  // Only this extension's own pages decide; content scripts run inside web pages.
  if (sender.id !== browser.runtime.id || !sender.url?.startsWith(browser.runtime.getURL('/'))) return undefined;
  const parsed = PageMessage.safeParse(message);
  if (!parsed.success) return Promise.resolve({ ok: false, error: 'unknown message' });
  const m = parsed.data;
  const done = m.type === 'approval.decide' ? approvals.decide(m.id, m.approve) : approvals.rejectAll();
  return done.then(
    (): Reply => ({ ok: true }),
    (e: unknown): Reply => ({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});

browser.windows.onRemoved.addListener((windowId) => void approvals.windowRemoved(windowId));
browser.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === RESUME_ALARM) void approvals.resume();
});
browser.runtime.onStartup.addListener(() => void approvals.browserStarted());

void browser.action.setBadgeBackgroundColor({ color: '#b45309' });
// Every start of the worker (install, update, wake-up): replay payments left in flight.
void approvals.resume();
