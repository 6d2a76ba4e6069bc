// The signed pin cookie: round trip, tampering, foreign keys and names, expiry, rotation,
// canonical encodings only (a seeded fuzz of 10,000 mutations), and the cap on pins examined.
import test from 'ava';
import { AffinityCookie, MAX_PIN_COOKIES, readCookieValue } from '../../proxy/affinity-cookie.ts';

const cookie = { name: 'stickless', path: '/', maxAgeSeconds: 3600, secure: true, httpOnly: true, sameSite: 'lax' as const };
const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';
const NOW = Date.UTC(2025, 0, 1);

test('a pin round-trips the backend id and issue time', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const value = codec.encode('app@10.0.0.5:3000', NOW);
  t.deepEqual(codec.verify(value, NOW + 1000), { backendId: 'app@10.0.0.5:3000', issuedAtSeconds: NOW / 1000, staleKey: false });
  t.false(value.includes('10.0.0.5'), 'the id is not readable in clear text');
});

test('Set-Cookie carries the configured attributes', (t) => {
  const header = new AffinityCookie([KEY_A], cookie).serialize('a', NOW);
  t.regex(header, /^stickless=[^;]+; Path=\/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax$/);
  const none = new AffinityCookie([KEY_A], { ...cookie, secure: false, httpOnly: false, sameSite: 'none', path: '/cart', maxAgeSeconds: 60 }).serialize('a', NOW);
  t.regex(none, /; Path=\/cart; Max-Age=60; Secure; SameSite=None$/, 'SameSite=None forces Secure');
});

test('tampered, truncated and garbage cookies count as absent', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const value = codec.encode('a', NOW);
  const [id, issued, mac] = value.split('.') as [string, string, string];
  const forgedId = `${Buffer.from('b').toString('base64url')}.${issued}.${mac}`;
  const flipped = `${id}.${issued}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`;
  const newerIssue = `${id}.${(NOW / 1000 + 10).toString(36)}.${mac}`;
  for (const bad of [forgedId, flipped, newerIssue, `${id}.${issued}`, 'a.b.c', '', '...', `${value}x`]) t.is(codec.verify(bad, NOW), undefined, bad);
});

test('a cookie signed by an unknown key or for another cookie name is foreign', (t) => {
  const ours = new AffinityCookie([KEY_A], cookie);
  t.is(ours.verify(new AffinityCookie([KEY_B], cookie).encode('a', NOW), NOW), undefined);
  t.is(ours.verify(new AffinityCookie([KEY_A], { ...cookie, name: 'other' }).encode('a', NOW), NOW), undefined);
});

test('expired and future-dated pins count as absent', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const value = codec.encode('a', NOW);
  t.truthy(codec.verify(value, NOW + 3600 * 1000));
  t.is(codec.verify(value, NOW + 3601 * 1000), undefined);
  t.is(codec.verify(value, NOW - 120 * 1000), undefined, 'issued two minutes in the future');
});

test('key rotation: the first key signs, every key verifies, old-key pins ask for a refresh', (t) => {
  const before = new AffinityCookie([KEY_A], cookie);
  const after = new AffinityCookie([KEY_B, KEY_A], cookie);
  const old = before.encode('a', NOW);
  const pin = after.verify(old, NOW);
  t.like(pin, { backendId: 'a', staleKey: true });
  t.true(after.needsRefresh(pin!, NOW));
  const fresh = after.encode('a', NOW);
  t.like(after.verify(fresh, NOW), { staleKey: false });
  t.is(before.verify(fresh, NOW), undefined, 'instances without the new key do not accept it');
  t.is(new AffinityCookie([KEY_B], cookie).verify(old, NOW), undefined, 'a dropped key stops verifying');
});

test('pins past half their life ask for a refresh', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const pin = codec.verify(codec.encode('a', NOW), NOW)!;
  t.false(codec.needsRefresh(pin, NOW + 1000));
  t.true(codec.needsRefresh(pin, NOW + 1801 * 1000));
});

test('the Cookie header is scanned for the first valid value of our cookie', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const good = codec.encode('b', NOW);
  t.like(codec.verifyHeader(`xstickless=1; stickless=forged; other=2; stickless=${good}`, NOW), { backendId: 'b' });
  t.is(codec.verifyHeader('mystickless=1', NOW), undefined);
  t.deepEqual(readCookieValue('a=1; b="two"; c=3', 'b'), { value: 'two', end: 12 });
});

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

test('only the canonical encoding of a pin verifies: no other last character, padding or junk suffix', (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const value = codec.encode('app-1', NOW);
  t.truthy(codec.verify(value, NOW));
  const accepted = [];
  for (const c of BASE64URL) {
    const variant = `${value.slice(0, -1)}${c}`;
    if (variant !== value && codec.verify(variant, NOW) !== undefined) accepted.push(variant);
  }
  t.deepEqual(accepted, [], 'the MAC\'s last character carries 4 unused bits; they must be zero');
  for (const suffix of ['=', '==', '!!', ' ', '.', '%3D']) t.is(codec.verify(`${value}${suffix}`, NOW), undefined, suffix);
  const [id, issued, mac] = value.split('.') as [string, string, string];
  t.is(codec.verify(`${id}=.${issued}.${mac}`, NOW), undefined, 'padded id');
  t.is(codec.verify(`${id}.0${issued}.${mac}`, NOW), undefined, 'leading zero in the issue time');
});

test('a seeded fuzz of 10,000 mutations of valid pins accepts none of them', (t) => {
  const codec = new AffinityCookie([KEY_A, KEY_B], cookie);
  const random = mulberry32(0x5eed);
  const pick = <T>(items: ArrayLike<T>): T => items[Math.floor(random() * items.length)]!;
  const alphabet = `${BASE64URL}=.+/!%~ "\t;,`;
  const originals = ['a', 'app-1', 'app@10.0.0.5:3000', 'x'.repeat(40), '[::1]:80'].flatMap((id, i) => [
    codec.encode(id, NOW - i * 1000),
    new AffinityCookie([KEY_B], cookie).encode(id, NOW - i * 7000),
  ]);
  for (const original of originals) t.truthy(codec.verify(original, NOW), original);
  const mutate = (value: string): string => {
    const at = Math.floor(random() * value.length);
    switch (Math.floor(random() * 6)) {
      case 0: return `${value.slice(0, at)}${pick(alphabet)}${value.slice(at + 1)}`;
      case 1: return `${value.slice(0, at)}${pick(alphabet)}${value.slice(at)}`;
      case 2: return `${value.slice(0, at)}${value.slice(at + 1)}`;
      case 3: return `${value}${pick(['=', '==', '!!', '.', 'A', pick(alphabet) + pick(alphabet)])}`;
      case 4: return `${value.slice(0, at)}${value[at] === value[at]!.toUpperCase() ? value[at]!.toLowerCase() : value[at]!.toUpperCase()}${value.slice(at + 1)}`;
      default: return `${value.slice(0, -1)}${pick(BASE64URL)}`;
    }
  };
  let tried = 0;
  const accepted: string[] = [];
  while (tried < 10_000) {
    const original = pick(originals);
    let mutated = mutate(original);
    if (random() < 0.3) mutated = mutate(mutated);
    if (mutated === original) continue;
    tried++;
    if (codec.verify(mutated, NOW) !== undefined) accepted.push(mutated);
  }
  t.deepEqual(accepted, []);
});

test(`at most ${MAX_PIN_COOKIES} values of the pin cookie are examined per request`, (t) => {
  const codec = new AffinityCookie([KEY_A], cookie);
  const good = `stickless=${codec.encode('b', NOW)}`;
  const forged = (n: number) => Array.from({ length: n }, (_, i) => `stickless=forged${i}`).join('; ');
  t.like(codec.verifyHeader(`${forged(MAX_PIN_COOKIES - 1)}; ${good}`, NOW), { backendId: 'b' });
  t.is(codec.verifyHeader(`${forged(MAX_PIN_COOKIES)}; ${good}`, NOW), undefined);
  t.is(codec.verifyHeader(`${forged(350)}; ${good}`, NOW), undefined);
});

/** Small seeded PRNG so a failing fuzz case can be reproduced. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('new pins (served from the per-second cache): the same Set-Cookie for a backend within a second, a new one after; re-issues keep their first-issue time', (t) => {
  const codec = new AffinityCookie([KEY_A], { ...cookie, absoluteTimeoutSeconds: 7200 }, 'route');
  const first = codec.serialize('a', NOW + 100);
  t.is(codec.serialize('a', NOW + 999), first, 'same backend, same second');
  t.not(codec.serialize('b', NOW + 500), first, 'another backend gets its own pin');
  const next = codec.serialize('a', NOW + 1000);
  t.not(next, first, 'the next second issues a new pin');
  const value = (header: string) => readCookieValue(header, 'stickless')!.value;
  t.is(codec.verify(value(next), NOW + 1000)?.issuedAtSeconds, NOW / 1000 + 1);
  t.is(codec.verify(value(codec.serialize('b', NOW + 500)), NOW + 500)?.backendId, 'b');
  // A re-issue keeps its first-issue time and is never answered from the new-pin cache.
  const reissued = codec.serialize('a', NOW + 1500, NOW / 1000 - 600);
  t.not(reissued, next);
  t.is(codec.verify(value(reissued), NOW + 1500)?.startedAtSeconds, NOW / 1000 - 600);
  t.regex(reissued, /Max-Age=3600/, 'Max-Age is the smaller of max-age and what the absolute timeout leaves');
});
