/**
 * Which sites Tollway may access: all, or a list the person keeps. Chrome holds the grants
 * (chrome.permissions); granting needs a click (Chrome asks the person to confirm), removing does
 * not. On a site without access Tollway notices no 402 and offers no `window.tollway`.
 */
import browser from 'webextension-polyfill';
import { useEffect, useState } from 'preact/hooks';
import { ALL_SITES, hostAccessOf, originPattern, sitePatterns, type HostAccess } from '../background/host-access.js';
import { send } from '../common/page.js';

export { sitePatterns };

/** The host access Chrome has granted, kept current. */
export function useHostAccess(): HostAccess | null {
  const [access, setAccess] = useState<HostAccess | null>(null);
  useEffect(() => {
    const read = () => void browser.permissions.getAll().then((p) => setAccess(hostAccessOf(p.origins ?? [])));
    read();
    browser.permissions.onAdded.addListener(read);
    browser.permissions.onRemoved.addListener(read);
    return () => {
      browser.permissions.onAdded.removeListener(read);
      browser.permissions.onRemoved.removeListener(read);
    };
  }, []);
  return access;
}

/**
 * Asks Chrome for host access. Must be called straight from a click or a submit, before any
 * `await`: Chrome only shows its prompt inside a user gesture.
 */
export function requestSites(patterns: readonly string[]): Promise<boolean> {
  if (!patterns.length) return Promise.resolve(true);
  return browser.permissions.request({ origins: [...patterns] }).then(async (granted) => {
    if (granted) await send({ type: 'access.changed' });
    return granted;
  });
}

export function SiteAccess() {
  const access = useHostAccess();
  const [adding, setAdding] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  if (!access) return null;

  const run = (label: string, task: Promise<unknown>) =>
    void task.then(
      () => setStatus(label),
      (e: unknown) => setStatus(e instanceof Error ? e.message : String(e)),
    );
  const allSites = () =>
    run(
      'Tollway may now access all sites.',
      requestSites([ALL_SITES]).then((ok) => (ok ? undefined : Promise.reject(new Error('Chrome did not grant access to all sites.')))),
    );
  const chosenOnly = () =>
    run(
      'Tollway now accesses only the sites you list.',
      browser.permissions.remove({ origins: [ALL_SITES] }).then(() => send({ type: 'access.changed' })),
    );
  const remove = (site: string) =>
    run(
      `${site} removed.`,
      browser.permissions.remove({ origins: [originPattern(site)] }).then(() => send({ type: 'access.changed' })),
    );
  const add = (e: Event) => {
    e.preventDefault();
    let patterns: string[];
    try {
      patterns = sitePatterns(adding);
    } catch (err) {
      return setStatus((err as Error).message);
    }
    if (!patterns.length) return setStatus('Type a site address first.');
    run(
      'Site added.',
      requestSites(patterns).then((ok) => (ok ? setAdding('') : Promise.reject(new Error('Chrome did not grant access to that site.')))),
    );
  };

  return (
    <section aria-label="Site access">
      <h2>Site access</h2>
      <p data-testid="access-mode">
        {access.mode === 'all'
          ? 'Tollway notices payment requests on all sites.'
          : 'Tollway notices payment requests only on the sites listed here.'}
      </p>
      {access.mode === 'all' ? (
        <div class="actions">
          <button type="button" onClick={chosenOnly}>
            Only sites I choose
          </button>
        </div>
      ) : (
        <>
          {access.sites.length ? (
            <ul data-testid="access-sites">
              {access.sites.map((s) => (
                <li key={s}>
                  {s}{' '}
                  <button type="button" class="link" aria-label={`Remove access to ${s}`} onClick={() => remove(s)}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <p class="warning">No site yet: Tollway notices nothing until you add one.</p>
          )}
          <form onSubmit={add} aria-label="Give access to a site">
            <label>
              Site address to add
              <input type="url" placeholder="https://shop.example" value={adding} onInput={(e) => setAdding(e.currentTarget.value)} />
            </label>
            <div class="actions">
              <button type="submit">Add site</button>
              <button type="button" onClick={allSites}>
                Allow all sites
              </button>
            </div>
          </form>
        </>
      )}
      {status && (
        <p role="status" data-testid="access-status">
          {status}
        </p>
      )}
    </section>
  );
}
