/** Starting the button once per script element, when the page is ready for it. */
import { type BrowserWindow, run } from './button.js';
import { runSlots } from './slots.js';

/** Marks a booted script element (`data-tollway-booted`), so a second load of the file adds no second button. */
export const VERSION = '1';

export function boot(script: HTMLScriptElement | null, win?: BrowserWindow): void {
  const w = win ?? (typeof window !== 'undefined' ? window : undefined);
  if (!w?.document || !script || script.dataset.tollwayBooted) return;
  script.dataset.tollwayBooted = VERSION;
  // data-slots: the join dialog of a slots() API instead of a pay button.
  const start = () => (script.dataset.slots !== undefined ? runSlots(script, w) : run(script, w));
  // Wait for the whole document: the paywall embeds its challenge after the content (and a
  // data-target may not be parsed yet). The button still goes right after this script element.
  if (w.document.readyState === 'loading') w.document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
}
