/**
 * The layering that eslint.config.js keeps (shared → features → app, no feature imports another,
 * no production import of src/testing): each rule rejects an import that breaks it, and allows
 * one that keeps it. The files are virtual; the imported modules are real.
 */
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// import/no-cycle needs the linted file on disk; the cycle rule is checked by `npm run lint` itself.
const eslint = new ESLint({ cwd: root, overrideConfig: { rules: { 'import/no-cycle': 'off' } } });

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import layering', () => {
  it('rejects an import of another feature', async () => {
    const messages = await restricted('src/features/compare/probe.ts', "import { useTimelineStore } from '@/features/timeline/store';\nexport const a = useTimelineStore;\n");
    expect(messages).toEqual([expect.stringMatching(/no-restricted-paths: .*another feature/)]);
  });

  it('rejects a feature or the app imported by shared code', async () => {
    expect(await restricted('src/lib/probe.ts', "import { useCompareStore } from '@/features/compare/store';\nexport const a = useCompareStore;\n")).toEqual([expect.stringMatching(/Shared code must not import/)]);
    expect(await restricted('src/components/probe.tsx', "import { App } from '@/app/app';\nexport const a = App;\n")).toEqual([expect.stringMatching(/Shared code must not import/)]);
  });

  it('rejects test-only code in production files, and allows it in tests', async () => {
    const code = "import { attentionRowSums } from '@/testing/trajectory-checks';\nexport const a = attentionRowSums;\n";
    expect(await restricted('src/features/timeline/probe.ts', code)).toEqual([expect.stringMatching(/test-only code/)]);
    expect(await restricted('src/features/timeline/probe.test.ts', code)).toEqual([]);
  });

  it('allows a feature its own files and shared code, and the app every feature', async () => {
    expect(await restricted('src/features/timeline/probe.ts', "import { useTimelineStore } from './store';\nimport { useStudioStore } from '@/stores/studio-store';\nexport const a = [useTimelineStore, useStudioStore];\n")).toEqual([]);
    expect(await restricted('src/app/probe.ts', "import { useTimelineStore } from '@/features/timeline/store';\nimport { useCompareStore } from '@/features/compare/store';\nexport const a = [useTimelineStore, useCompareStore];\n")).toEqual([]);
  });
});
