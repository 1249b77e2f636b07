/** Helpers for extension pages: watch a storage key, send a validated message to the worker. */
import browser from 'webextension-polyfill';
import { useEffect, useState } from 'preact/hooks';
import { Reply, type PageMessage } from './messages.js';

/** The value under a `local` storage key, kept current through storage.onChanged. */
export function useStoredValue(key: string): unknown {
  const [value, setValue] = useState<unknown>(undefined);
  useEffect(() => {
    let live = true;
    void browser.storage.local.get(key).then((got) => live && setValue(got[key]));
    const onChanged = (changes: Record<string, { newValue?: unknown }>, area: string) => {
      if (area === 'local' && key in changes) setValue(changes[key]!.newValue);
    };
    browser.storage.onChanged.addListener(onChanged);
    return () => {
      live = false;
      browser.storage.onChanged.removeListener(onChanged);
    };
  }, [key]);
  return value;
}

export async function send(message: PageMessage): Promise<Reply> {
  try {
    const parsed = Reply.safeParse(await browser.runtime.sendMessage(message));
    return parsed.success ? parsed.data : { ok: false, error: 'unexpected reply' };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
