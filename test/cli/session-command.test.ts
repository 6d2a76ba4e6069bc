// `stickless session get|ls|rm|watch|revoke` through child processes against a real sessiond: JSON
// on stdout, errors as JSON on stderr, and the documented exit codes (docs/cli.md).
import test from 'ava';
import { setup } from '../client/client-harness.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { startStickless, stickless } from './cli-harness.ts';

const target = (address: string, ns: string): string[] => ['--address', address, '--namespace', ns, '--deadline-ms', '30000'];

test('get prints the session as JSON (exit 0); a missing one exits 1 with SESS_ERR_NOT_FOUND on stderr', async (t) => {
  t.timeout(240_000, 'node start-ups on a busy machine');
  const { sessiond, client, ns } = await setup(t, { store: 'memory' }, { deadlineMs: 30_000 });
  const s = await client.create({ cart: ['sku-1'], blob: Buffer.from([1, 2]) }, { owner: 'ada' });
  const got = await stickless(['session', 'get', s.id, ...target(sessiond.address, ns)]);
  t.is(got.code, 0, got.stderr);
  const shown = JSON.parse(got.stdout) as Record<string, unknown>;
  t.like(shown, { id: s.id, version: 1, owner: 'ada', fields: { cart: ['sku-1'], blob: { $base64: 'AQI=' } }, fieldErrors: {} });

  await client.delete(s.id);
  const missing = await stickless(['session', 'get', s.id], { STICKLESS_ADDRESS: sessiond.address, STICKLESS_NAMESPACE: ns });
  t.is(missing.code, 1);
  t.is(missing.stdout, '');
  t.is((JSON.parse(missing.stderr) as { error: { code: string } }).error.code, 'SESS_ERR_NOT_FOUND');

  // One id in 64 starts with '-': it is still an id, not an option (before it was a usage error).
  const dashed = await stickless(['session', 'get', `-${'A'.repeat(41)}A`], { STICKLESS_ADDRESS: sessiond.address, STICKLESS_NAMESPACE: ns });
  t.is(dashed.code, 1, dashed.stderr);
  t.is((JSON.parse(dashed.stderr) as { error: { code: string } }).error.code, 'SESS_ERR_NOT_FOUND');
});

test('ls --owner lists, revoke --owner deletes them all, rm deletes one (exit 1 when nothing was deleted)', async (t) => {
  t.timeout(240_000, 'node start-ups on a busy machine');
  const { sessiond, client, ns } = await setup(t, { store: 'memory' }, { deadlineMs: 30_000 });
  const one = await client.create({}, { owner: 'ada' });
  await client.create({}, { owner: 'ada' });
  const other = await client.create({}, { owner: 'bob' });
  const listed = await stickless(['session', 'ls', '--owner', 'ada', ...target(sessiond.address, ns)]);
  t.is(listed.code, 0, listed.stderr);
  t.is((JSON.parse(listed.stdout) as unknown[]).length, 2);
  t.false(listed.stdout.includes(one.id), 'ls shows handles, never ids');

  const revoked = await stickless(['session', 'revoke', '--owner', 'ada', ...target(sessiond.address, ns)]);
  t.deepEqual([revoked.code, JSON.parse(revoked.stdout)], [0, { revoked: 2 }]);
  t.is(await client.get(one.id), undefined);

  const removed = await stickless(['session', 'rm', other.id, ...target(sessiond.address, ns)]);
  t.deepEqual([removed.code, JSON.parse(removed.stdout)], [0, { deleted: true }]);
  const again = await stickless(['session', 'rm', other.id, ...target(sessiond.address, ns)]);
  t.deepEqual([again.code, JSON.parse(again.stdout)], [1, { deleted: false }]);
});

test('watch prints one JSON line per change and exits 0 when the session is deleted', async (t) => {
  t.timeout(240_000, 'node start-ups on a busy machine');
  const { sessiond, client, ns } = await setup(t, { store: 'memory' }, { deadlineMs: 30_000 });
  const s = await client.create({ n: 0 });
  const watch = startStickless(t, ['session', 'watch', s.id, ...target(sessiond.address, ns)]);
  await waitFor(() => watch.stdout().includes('SNAPSHOT'), 150_000, 'the SNAPSHOT line');
  await client.patch(s.id, [{ increment: 'n' }]);
  await waitFor(() => watch.stdout().includes('UPDATED'), 60_000, 'the UPDATED line');
  await client.delete(s.id);
  t.is(await watch.exited, 0);
  const kinds = watch.stdout().trim().split('\n').map((line) => (JSON.parse(line) as { kind: string }).kind);
  t.deepEqual(kinds, ['SNAPSHOT', 'UPDATED', 'DELETED']);
});

test('watch reopens its stream when sessiond stops (gracefully or not) and a new one takes the address; the changes keep coming', async (t) => {
  t.timeout(240_000, 'node start-ups on a busy machine');
  const { sessiond, client, ns } = await setup(t, { store: 'redis' }, { deadlineMs: 30_000 });
  const s = await client.create({ n: 0 });
  const watch = startStickless(t, ['session', 'watch', s.id, ...target(sessiond.address, ns)]);
  const lines = () => watch.stdout().trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { kind: string; version: number });
  await waitFor(() => watch.stdout().includes('SNAPSHOT'), 150_000, 'the SNAPSHOT line');

  // A graceful stop ends the stream with OK; a destroyed server cuts it. Either way the session is
  // still there, and the same address answers again a moment later.
  let current = sessiond;
  for (const stopping of ['close', 'destroy'] as const) {
    await (stopping === 'close' ? current.server.close() : current.server.destroy());
    current = await startSessiond(t, { redis: sessiond.redis, config: { listen: sessiond.address, keyPrefix: sessiond.keyPrefix } });
    const seen = lines().length;
    await waitFor(() => lines().slice(seen).some((line) => line.kind === 'SNAPSHOT'), 60_000, `a new SNAPSHOT after ${stopping}`);
    await client.patch(s.id, [{ increment: 'n' }]);
    await waitFor(() => lines().slice(seen).some((line) => line.kind === 'UPDATED'), 60_000, `an UPDATED after ${stopping}`);
  }
  t.regex(watch.stderr(), /"reopening"/, 'each reopening is said on stderr');
  await client.delete(s.id);
  t.is(await watch.exited, 0);
  const kinds = lines().map((line) => line.kind);
  t.deepEqual(kinds, ['SNAPSHOT', 'SNAPSHOT', 'UPDATED', 'SNAPSHOT', 'UPDATED', 'DELETED']);
  const versions = lines().map((line) => line.version);
  t.deepEqual(versions, [...versions].sort((a, b) => a - b), 'versions never go backwards across reopenings');
});

test('usage errors exit 2 before dialing; an unreachable sessiond exits 3 with its code', async (t) => {
  t.timeout(400_000, 'node start-ups on a busy machine');
  const cases = [
    ['session', 'get', '--namespace', 'n'],
    ['session', 'ls', '--namespace', 'n'],
    ['session', 'get', 'x'],
    ['session', 'get', 'x', '--namespace', 'n', '--bogus'],
    ['nonsense'],
  ];
  const results: Awaited<ReturnType<typeof stickless>>[] = [];
  for (const args of cases) results.push(await stickless(args));
  results.forEach((result, i) => t.is(result.code, 2, `stickless ${cases[i]!.join(' ')}: ${result.stderr}`));
  const down = await stickless(['session', 'get', 'a'.repeat(43), '--address', '127.0.0.1:1', '--namespace', 'n', '--deadline-ms', '2000']);
  t.is(down.code, 3);
  t.regex((JSON.parse(down.stderr) as { error: { code: string } }).error.code, /^SESS_ERR_(SERVICE_UNAVAILABLE|DEADLINE_EXCEEDED)$/);
});

test('--help of every command prints usage and exits 0', async (t) => {
  t.timeout(400_000, 'node start-ups on a busy machine');
  const cases = [['--help'], ['session', 'get', '--help'], ['sessiond', '--help'], ['proxy', '--help'], ['up', '--help']];
  const results: Awaited<ReturnType<typeof stickless>>[] = [];
  for (const args of cases) results.push(await stickless(args));
  results.forEach((result, i) => {
    t.is(result.code, 0, `stickless ${cases[i]!.join(' ')}: ${result.stderr}`);
    t.regex(result.stdout, /Usage/, cases[i]!.join(' '));
  });
});
