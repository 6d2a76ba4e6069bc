// The central shop's signed version token: bound to one cart, tampering and foreign keys count as
// no token, keys rotate, and a value remembered as verified is still bound to its cart.
import test from 'ava';
import { VersionCookie } from '../../demo/cart-app/version-cookie.ts';

const CART_A = 'a'.repeat(43);
const CART_B = 'b'.repeat(43);

test('a token vouches for its version on its own cart only, every time it is shown', (t) => {
  const cookie = new VersionCookie(['secret-one-0123456789']);
  const token = cookie.sign(CART_A, 7);
  t.regex(token, /^7\.[A-Za-z0-9_-]{22}$/);
  t.is(cookie.verify(token, CART_A), 7);
  t.is(cookie.verify(token, CART_A), 7, 'the second showing (answered from what verified before) agrees');
  t.is(cookie.verify(token, CART_B), 0, 'a token copied onto another cart vouches for nothing');
  t.is(cookie.verify(token, CART_B), 0);
  t.is(cookie.verify(token, undefined), 0);
  t.is(cookie.verify(undefined, CART_A), 0);
});

test('tampered versions and MACs, and tokens of unknown keys, count as no token', (t) => {
  const cookie = new VersionCookie(['secret-one-0123456789']);
  const token = cookie.sign(CART_A, 7);
  t.is(cookie.verify(token, CART_A), 7);
  const [, tag] = token.split('.') as [string, string];
  t.is(cookie.verify(`8.${tag}`, CART_A), 0, 'a raised version with the old MAC');
  t.is(cookie.verify(`7.${tag.slice(0, -1)}${tag.endsWith('A') ? 'B' : 'A'}`, CART_A), 0, 'a changed MAC');
  t.is(cookie.verify(`07.${tag}`, CART_A), 0, 'a non-canonical version');
  t.is(cookie.verify(new VersionCookie(['another-secret-98765']).sign(CART_A, 7), CART_A), 0, 'another deployment\'s key');
});

test('rotation: the first secret signs, every secret verifies', (t) => {
  const old = new VersionCookie(['old-secret-0123456789']);
  const rotated = new VersionCookie(['new-secret-0123456789', 'old-secret-0123456789']);
  t.is(rotated.verify(old.sign(CART_A, 3), CART_A), 3, 'a token of the old key still verifies');
  t.is(old.verify(rotated.sign(CART_A, 4), CART_A), 0, 'the new key signs');
});
