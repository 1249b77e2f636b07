import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const depcruise = join(root, 'node_modules/.bin/depcruise');

/** Runs the project's boundary rules over one file; resolves to the exit code and the report. */
async function cruise(file: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(depcruise, [file, '--config', '.dependency-cruiser.cjs'], { cwd: root });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Writes a throwaway module into the repository (the rules are about where a file lives). */
async function withProbe(dir: string, source: string, check: (r: { code: number; out: string }) => void) {
  const file = `${dir}/boundary-probe-${randomBytes(4).toString('hex')}.ts`;
  writeFileSync(join(root, file), source);
  try {
    check(await cruise(file));
  } finally {
    rmSync(join(root, file), { force: true });
  }
}

describe('import boundaries (npm run lint)', () => {
  it('fails when shared/ imports the hub', async () => {
    await withProbe('shared', "import { systemClock } from '../server/clock.js';\nexport const c = systemClock;\n", (r) => {
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('shared-imports-nothing');
    });
  }, 60_000);

  it('fails when the merchant kit imports the hub', async () => {
    await withProbe('merchant', "export type { Config } from '../server/config.js';\n", (r) => {
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('merchant-only-shared-and-lightning');
    });
  }, 60_000);

  it('fails when the merchant kit reaches shared/ by a relative path (it would not exist once installed)', async () => {
    await withProbe('merchant', "export { parseAmount } from '../shared/amount.js';\n", (r) => {
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('merchant-imports-packages-by-name');
    });
  }, 60_000);

  it('passes an import in the allowed direction', async () => {
    await withProbe('merchant', "export { parseAmount } from '@tollway/shared/amount.js';\n", (r) => {
      expect(r.out).not.toContain('error');
      expect(r.code).toBe(0);
    });
  }, 60_000);
});
