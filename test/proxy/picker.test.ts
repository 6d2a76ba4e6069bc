// The P2C balancer and rendezvous hashing, on plain objects with a seeded random source.
import test from 'ava';
import { PowerOfTwoChoicesPicker } from '../../proxy/picker.ts';
import { hashString, rendezvousPick } from '../../proxy/rendezvous.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
const node = (id: string, inFlight = 0, weight = 1) => ({ id, inFlight, weight, idHash: hashString(id) });

test('power of two choices never picks the busier of the two it samples', (t) => {
  const busy = node('busy', 50);
  const idle = [node('a', 0), node('b', 1), node('c', 2)];
  const picker = new PowerOfTwoChoicesPicker([busy, ...idle], seeded(1));
  for (let i = 0; i < 500; i++) t.not(picker.pick(), busy);
});

test('with equal load, picks spread over every candidate', (t) => {
  const nodes = ['a', 'b', 'c', 'd'].map((id) => node(id));
  const picker = new PowerOfTwoChoicesPicker(nodes, seeded(2));
  const counts = new Map<string, number>();
  for (let i = 0; i < 4000; i++) {
    const id = picker.pick()!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const n of nodes) t.true((counts.get(n.id) ?? 0) > 600, `${n.id}: ${counts.get(n.id)}`);
});

test('weights shift the share of picks', (t) => {
  const heavy = node('heavy', 0, 4);
  const light = node('light', 0, 1);
  const other = node('other', 0, 1);
  const picker = new PowerOfTwoChoicesPicker([heavy, light, other], seeded(3));
  let heavyPicks = 0;
  for (let i = 0; i < 3000; i++) if (picker.pick() === heavy) heavyPicks++;
  t.true(heavyPicks > 1500, `heavy got ${heavyPicks} of 3000`);
});

test('excluded candidates are never picked and an empty picker returns undefined', (t) => {
  const [a, b] = [node('a'), node('b')];
  const picker = new PowerOfTwoChoicesPicker([a, b], seeded(4));
  for (let i = 0; i < 50; i++) t.is(picker.pick(new Set([a])), b);
  t.is(picker.pick(new Set([a, b])), undefined);
  t.is(new PowerOfTwoChoicesPicker([]).pick(), undefined);
});

test('rendezvous hashing is stable and moves only the keys of a removed member', (t) => {
  const members = ['a', 'b', 'c', 'd', 'e'].map((id) => node(id));
  const keys = Array.from({ length: 2000 }, (_, i) => hashString(`user-${i}`));
  const before = keys.map((k) => rendezvousPick(k, members)!.id);
  t.deepEqual(keys.map((k) => rendezvousPick(k, members)!.id), before, 'same input, same owner');
  const without = members.filter((m) => m.id !== 'c');
  let moved = 0;
  keys.forEach((k, i) => {
    const owner = rendezvousPick(k, without)!.id;
    if (before[i] !== 'c') t.is(owner, before[i]!);
    else moved++;
  });
  t.true(moved > 250 && moved < 600, `about a fifth of the keys moved: ${moved}`);
  const withF = [...members, node('f')];
  const movedToF = keys.filter((k, i) => rendezvousPick(k, withF)!.id !== before[i]);
  t.true(movedToF.every((k) => rendezvousPick(k, withF)!.id === 'f'), 'a new member only takes keys, never shuffles others');
});
