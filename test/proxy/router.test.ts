// Table tests of route matching precedence.
import test from 'ava';
import { Router } from '../../proxy/router.ts';

const route = (name: string, pathPrefix: string, host?: string) => ({ name, match: { pathPrefix, host } });
const router = new Router([
  route('root', '/'),
  route('cart', '/cart'),
  route('cart-items', '/cart/items'),
  route('shop-root', '/', 'shop.example'),
  route('shop-cart', '/cart', 'shop.example'),
  route('api', '/api/'),
]);

const cases: Array<[string | undefined, string, string | undefined]> = [
  [undefined, '/', 'root'],
  ['any.example', '/cart', 'cart'],
  ['any.example', '/cart/', 'cart'],
  ['any.example', '/cart?x=1', 'cart'],
  ['any.example', '/cartoon', 'root'],
  ['any.example', '/cart/items/7', 'cart-items'],
  ['SHOP.example:8080', '/cart/1', 'shop-cart'],
  ['shop.example', '/cart/items/1', 'cart-items'],
  ['shop.example', '/other', 'shop-root'],
  ['any.example', '/api/v1', 'api'],
  ['any.example', '/api', 'root'],
];

for (const [host, path, expected] of cases) {
  test(`${host ?? '(no host)'} ${path} → ${expected}`, (t) => {
    t.is(router.match(host, path)?.name, expected);
  });
}

test('no route matches when nothing covers the path', (t) => {
  t.is(new Router([route('cart', '/cart')]).match('x', '/other'), undefined);
  t.is(new Router([route('h', '/', 'a.example')]).match('b.example', '/'), undefined);
});
