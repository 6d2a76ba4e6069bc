// The signed pin cookie: round trip, tampering, foreign keys and names, expiry, rotation.
import test from 'ava';
import { AffinityCookie, readCookieValue } from '../../proxy/affinity-cookie.ts';

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
