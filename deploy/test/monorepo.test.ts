import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRepoFile, repoPath, root, run } from './repo.ts';

/** turbo's hash of `task` in the working tree at `dir` (a dry run: nothing is built). */
async function taskHash(dir: string, task: string): Promise<string> {
  const { stdout } = await run(repoPath('node_modules', '.bin', 'turbo'), ['run', 'build', '--dry=json'], {
    cwd: dir,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    maxBuffer: 32 * 1024 * 1024,
  });
  const tasks = (JSON.parse(stdout) as { tasks: { taskId: string; hash: string }[] }).tasks;
  const found = tasks.find((t) => t.taskId === task);
  if (!found) throw new Error(`turbo's dry run has no ${task}`);
  return found.hash;
}

describe("turbo's build cache", () => {
  it('builds anew when the root tsconfig.base.json, which every package extends, changes', async () => {
    // a copy of the tracked files, so the repository itself is never edited
    const dir = await mkdtemp(join(tmpdir(), 'turbo-inputs-'));
    try {
      const { stdout } = await run('git', ['ls-files', '-z'], { cwd: root, maxBuffer: 32 * 1024 * 1024 });
      for (const file of stdout.split('\0').filter(Boolean)) {
        await cp(join(root, file), join(dir, file), { recursive: true }).catch(async (error) => {
          // a file deleted in the working tree and not yet committed
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        });
      }
      await run('git', ['init', '-q'], { cwd: dir });
      const before = await taskHash(dir, '@simplebank/chassis#build');
      const base = readRepoFile('tsconfig.base.json');
      const changed = base.replace('"strict": true', '"strict": false');
      expect(changed).not.toBe(base);
      await writeFile(join(dir, 'tsconfig.base.json'), changed);
      expect(await taskHash(dir, '@simplebank/chassis#build')).not.toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the design the code refers to', () => {
  it('is docs/architecture.md, in the repository: every "§n" a comment cites is one of its sections', async () => {
    // the repository's own files, as git has them (not node_modules, dist or what is ignored)
    const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root });
    const files = stdout
      .split('\n')
      .filter((f) => /\.(ts|js|md|ya?ml|json|conf|sql|html)$/.test(f) && !f.startsWith('deploy/schemas/'))
      // this file names what it refuses
      .filter((f) => f !== 'deploy/test/monorepo.test.ts');
    const design = readRepoFile('docs', 'architecture.md');
    const sections = new Set([...design.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));
    expect(sections.size).toBeGreaterThanOrEqual(5);
    const cited: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readRepoFile(file);
      } catch {
        continue; // deleted in the working tree
      }
      // a design document outside the repository
      expect(text, file).not.toMatch(/ARCHITECTURE §|ARCHITECTURE:|shared\/ARCHITECTURE/);
      for (const match of text.matchAll(/architecture\.md\)? §(\d+)(?:[–-](\d+))?/g)) {
        for (const n of [match[1], match[2]].filter(Boolean)) {
          cited.push(`${file} §${n}`);
          expect(sections.has(n as string), `${file} cites §${n}`).toBe(true);
        }
      }
    }
    expect(cited.length).toBeGreaterThanOrEqual(10);
  });
});

describe("a service's domain folder", () => {
  it('may import the contracts and its siblings, not I/O: the lint rule refuses pg, the chassis, node:fs, the store', async () => {
    // the repository's Biome configuration, on probe files in a scratch tree of the same shape
    const dir = await mkdtemp(join(tmpdir(), 'domain-rule-'));
    try {
      await cp(repoPath('biome.json'), join(dir, 'biome.json'));
      const domain = join(dir, 'services', 'fees', 'src', 'domain');
      await mkdir(domain, { recursive: true });
      const probe = (imports: string) => `${imports}\nexport const used = [a];\n`;
      const cases: [string, string, boolean][] = [
        ['pg', "import a from 'pg';", false],
        ['chassis', "import { Poller as a } from '@simplebank/chassis';", false],
        ['node-fs', "import { readFile as a } from 'node:fs/promises';", false],
        ['store', "import { charges as a } from '../charges.ts';", false],
        ['contracts', "import { FailureReason as a } from '@simplebank/contracts';", true],
        ['backoff', "import { retryDelay as a } from '@simplebank/chassis/backoff';", true],
        ['sibling', "import { fee as a } from './fee-schedule.ts';", true],
      ];
      for (const [name, line] of cases) await writeFile(join(domain, `${name}.ts`), probe(line));
      // outside the domain folder the same import is fine
      await writeFile(join(domain, '..', 'store.ts'), probe("import a from 'pg';"));
      const lint = await run(
        repoPath('node_modules', '.bin', 'biome'),
        ['lint', '--vcs-enabled=false', '--max-diagnostics=none', '.'],
        { cwd: dir },
      ).then(
        ({ stdout, stderr }) => `${stdout}${stderr}`,
        (error: { stdout: string; stderr: string }) => `${error.stdout}${error.stderr}`,
      );
      const refused = (file: string) =>
        new RegExp(`${file.replaceAll('/', '[/\\\\]')}:1:\\d+ lint/style/noRestrictedImports`).test(lint);
      for (const [name, , allowed] of cases) {
        expect(refused(`services/fees/src/domain/${name}.ts`), `${name}\n${lint}`).toBe(!allowed);
      }
      expect(refused('services/fees/src/store.ts'), lint).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
