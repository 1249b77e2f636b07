/**
 * Which sites Tollway may access: all, or a list the person keeps. Chrome holds the grants
 * (chrome.permissions); granting needs a click (Chrome asks the person to confirm), removing does
 * not. On a site without access Tollway notices no 402 and offers no `window.tollway`.
 */
import { useEffect, useState } from 'preact/hooks';
import { ALL_SITES, hostAccessOf, originPattern, sitePatterns, type HostAccess } from '../background/host-access.js';
import { t } from '../common/i18n.js';
import { send } from '../common/page.js';

export { sitePatterns };

/** The host access Chrome has granted, kept current. */
export function useHostAccess(): HostAccess | null {
  const [access, setAccess] = useState<HostAccess | null>(null);
  useEffect(() => {
    const read = () => void chrome.permissions.getAll().then((p) => setAccess(hostAccessOf(p.origins ?? [])));
    read();
    chrome.permissions.onAdded.addListener(read);
    chrome.permissions.onRemoved.addListener(read);
    return () => {
      chrome.permissions.onAdded.removeListener(read);
      chrome.permissions.onRemoved.removeListener(read);
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
  return chrome.permissions.request({ origins: [...patterns] }).then(async (granted) => {
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
      t('onboarding_access_now_all'),
      requestSites([ALL_SITES]).then((ok) => (ok ? undefined : Promise.reject(new Error(t('onboarding_access_all_refused'))))),
    );
  const chosenOnly = () =>
    run(
      t('onboarding_access_now_chosen'),
      chrome.permissions.remove({ origins: [ALL_SITES] }).then(() => send({ type: 'access.changed' })),
    );
  const remove = (site: string) =>
    run(
      t('onboarding_access_removed', site),
      chrome.permissions.remove({ origins: [originPattern(site)] }).then(() => send({ type: 'access.changed' })),
    );
  const add = (e: Event) => {
    e.preventDefault();
    let patterns: string[];
    try {
      patterns = sitePatterns(adding);
    } catch {
      return setStatus(t('onboarding_access_bad_site', adding.trim()));
    }
    if (!patterns.length) return setStatus(t('onboarding_access_type_first'));
    run(
      t('onboarding_access_added'),
      requestSites(patterns).then((ok) => (ok ? setAdding('') : Promise.reject(new Error(t('onboarding_access_site_refused'))))),
    );
  };

  return (
    <section aria-labelledby="site-access-title">
      <h2 id="site-access-title">{t('onboarding_settings_access_title')}</h2>
      <p data-testid="access-mode">
        {access.mode === 'all' ? t('onboarding_settings_access_all') : t('onboarding_settings_access_chosen')}
      </p>
      {access.mode === 'all' ? (
        <div class="actions">
          <button type="button" onClick={chosenOnly}>
            {t('onboarding_access_chosen')}
          </button>
        </div>
      ) : (
        <>
          {access.sites.length ? (
            <ul class="list site-list" data-testid="access-sites">
              {access.sites.map((s) => (
                <li key={s} class="spread">
                  <span class="break">{s}</span>
                  <button type="button" class="btn-sm" aria-label={t('onboarding_access_remove_label', s)} onClick={() => remove(s)}>
                    {t('onboarding_access_remove')}
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <p class="callout callout-warn">{t('onboarding_settings_access_empty')}</p>
          )}
          <form onSubmit={add} aria-label={t('onboarding_access_add_form')}>
            <div class="field">
              <label for="add-site">{t('onboarding_access_add_label')}</label>
              <input
                id="add-site"
                type="url"
                placeholder="https://shop.example"
                value={adding}
                onInput={(e) => setAdding(e.currentTarget.value)}
              />
            </div>
            <div class="actions">
              <button type="submit">{t('onboarding_access_add')}</button>
              <button type="button" onClick={allSites}>
                {t('onboarding_access_allow_all')}
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
