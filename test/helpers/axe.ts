/**
 * axe-core in a real page: its serious and critical findings, and screenshots of a state in the
 * light and the dark theme. axe is evaluated over the DevTools protocol, which an extension page's
 * content security policy does not cover.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Frame, Page } from 'playwright-core';

declare const axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> };
interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: { target: string[] }[];
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical violations in `target` (a page, or one frame of it) as it is now. */
export async function seriousViolations(target: Page | Frame): Promise<{ id: string; impact: string | null; targets: string[] }[]> {
  if (!(await target.evaluate(() => 'axe' in globalThis))) await target.evaluate(AXE_SOURCE);
  const found = await target.evaluate(() => axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations));
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

/**
 * For each theme: the page (and each of its extension frames) scanned, then saved as
 * `<dir>/<name>-<theme>.png`. Returns the findings by theme; empty arrays mean none.
 */
export async function scanAndShoot(page: Page, dir: string, name: string): Promise<Record<'light' | 'dark', string[]>> {
  const out: Record<'light' | 'dark', string[]> = { light: [], dark: [] };
  // The pointer off every control: a hovered button's colours are not the ones a person sees first.
  await page.mouse.move(0, 0);
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
    for (const frame of page.frames()) {
      if (frame !== page.mainFrame() && !frame.url().startsWith('chrome-extension://')) continue;
      for (const v of await seriousViolations(frame)) out[colorScheme].push(`${v.impact} ${v.id}: ${v.targets.join(', ')}`);
    }
    await page.screenshot({ path: `${dir}/${name}-${colorScheme}.png`, fullPage: true, animations: 'disabled' });
  }
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });
  return out;
}
