/**
 * Helpers for extension pages: watch a storage key, send a validated message to the worker.
 * Pages call `chrome.*` directly: in Chrome's MV3 these return promises, and the polyfill would add
 * ~2.7 KB gzipped to the popup for nothing (the worker keeps it).
 */
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { Reply, type PageMessage } from './messages.js';

/**
 * The value under a storage key, kept current through storage.onChanged. `first` is a value the
 * page already read before it rendered (`{ value }`, the value possibly undefined): shown at once,
 * then read again once subscribed.
 */
export function useStoredValue(key: string, area: 'local' | 'session' = 'local', first?: { value: unknown }): unknown {
  return useStoredEntry(key, area, first).value;
}

/** The same, telling "not read yet" (`loaded: false`) from "absent". */
export function useStoredEntry(
  key: string,
  area: 'local' | 'session' = 'local',
  first?: { value: unknown },
): { loaded: boolean; value: unknown } {
  const [entry, setEntry] = useState<{ loaded: boolean; value: unknown }>(() =>
    first ? { loaded: true, value: first.value } : { loaded: false, value: undefined },
  );
  useEffect(() => {
    let live = true;
    void chrome.storage[area].get(key).then((got) => live && setEntry({ loaded: true, value: got[key] }));
    const onChanged = (changes: Record<string, { newValue?: unknown }>, changed: string) => {
      if (changed === area && key in changes) setEntry({ loaded: true, value: changes[key]!.newValue });
    };
    chrome.storage.onChanged.addListener(onChanged);
    return () => {
      live = false;
      chrome.storage.onChanged.removeListener(onChanged);
    };
  }, [key, area]);
  return entry;
}

export async function send(message: PageMessage): Promise<Reply> {
  try {
    const parsed = Reply.safeParse(await chrome.runtime.sendMessage(message));
    return parsed.success ? parsed.data : { ok: false, error: t('page_unexpected_reply') };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
