// A Node.js older than package.json "engines" gets one line naming the version needed from
// `npm start`, `npm test` and `npm ci` (scripts/check-node.cjs in prestart, pretest and preinstall),
// not Node 20's ERR_UNKNOWN_FILE_EXTENSION ".ts" stack trace. STICKLESS_CHECK_NODE_VERSION makes
// the guard judge a pretended version, so these tests run on the Node that runs the suite.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GUARD = 'scripts/check-node.cjs';
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };

const run = promisify(execFile);

/** Runs `file args` to its end (bounded for a hang, not for speed): exit status and output. */
async function exec(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 50_000 });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') return { status: null, stdout: '', stderr: '', error: error as Error };
    return { status: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const guard = (version: string | undefined) => exec(process.execPath, [GUARD], { ...process.env, STICKLESS_CHECK_NODE_VERSION: version ?? '' });

test('engines asks for Node 22.22 or newer, in the one form the guard reads', (t) => {
  t.is(pkg.engines.node, '>=22.22');
});

test('an old Node gets one line naming the version needed and how to get it, exit 1', async (t) => {
  const result = await guard('20.20.2');
  t.is(result.status, 1);
  t.is(result.stdout, '');
  const lines = result.stderr.split('\n');
  t.deepEqual(lines.slice(1), [''], `exactly one line:\n${result.stderr}`);
  t.regex(lines[0]!, /^stickless needs Node\.js 22\.22 or newer \(package\.json "engines": ">=22\.22"\), but this is Node\.js 20\.20\.2 /);
  t.regex(lines[0]!, /: install a newer one, e\.g\. `nvm install` \(reads \.nvmrc\) or from https:\/\/nodejs\.org\//);
  t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
});

for (const [version, passes] of [['22.21.9', false], ['v22.0.0', false], ['18', false], ['22.22.0', true], ['22.22', true], ['23.0.0', true], ['24.21.0', true]] as const) {
  test(`the guard ${passes ? 'lets Node ' + version + ' through' : 'stops Node ' + version}`, async (t) => {
    const result = await guard(version);
    t.is(result.status, passes ? 0 : 1, result.stderr);
    t.is(result.stderr === '', passes);
  });
}

test('the Node running this suite passes the guard silently', async (t) => {
  const result = await guard(undefined);
  t.is(result.status, 0, result.stderr);
  t.is(result.stderr + result.stdout, '');
});

test('npm start, npm test and npm ci run the guard before anything else', (t) => {
  for (const script of ['prestart', 'pretest', 'preinstall']) t.is(pkg.scripts[script], `node ${GUARD}`, `scripts.${script}`);
});

test('npm start on an old Node stops at the guard: the one line, and the stack is never started', async (t) => {
  const npm = await exec('npm', ['start', '--', '--help'], { ...process.env, STICKLESS_CHECK_NODE_VERSION: '20.20.2' });
  if (npm.error) return t.log(`npm is not on PATH here (${npm.error.message}); the scripts wiring is checked above`), t.pass();
  t.not(npm.status, 0);
  t.regex(npm.stderr, /^stickless needs Node\.js 22\.22 or newer .* but this is Node\.js 20\.20\.2 /m);
  t.notRegex(npm.stdout, /Usage: npm start/, 'demo/start.ts did not run');
});
