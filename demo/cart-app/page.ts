// The shop page: plain HTML and a little script against the JSON API, relative to wherever the
// proxy mounted the app.

import type { CartMode } from './cart-store.ts';

export function renderShopPage(mode: CartMode, replicaId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stickless shop (${mode})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:15px system-ui,sans-serif;margin:2rem auto;max-width:42rem;color:#222}
 button{margin:.15rem;padding:.3rem .7rem} .muted{color:#777} #cart li{margin:.2rem 0}
</style></head>
<body>
<h1>Tea shop <small class="muted">(${mode} sessions)</small></h1>
<p class="muted">Page served by <b>${replicaId}</b>; last API answer from <b id="replica">-</b></p>
<div id="products"></div>
<h2>Cart</h2><ul id="cart"></ul><p id="total"></p>
<button id="checkout">Check out</button>
<p id="status" class="muted"></p>
<script>
const base = location.pathname.replace(/\\/?$/, '/');
// Each change carries an Idempotency-Key, so a retried add is applied once.
function newKey() { return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now(); }
async function api(method, path, body) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (method !== 'GET') headers['idempotency-key'] = newKey();
  const res = await fetch(base + 'api/' + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  document.getElementById('replica').textContent = data.replica || res.headers.get('x-replica') || '?';
  document.getElementById('status').textContent = res.ok ? (data.cartLost ? 'Your previous cart was lost.' : '') : (data.error || res.status);
  return data;
}
function show(data) {
  if (!data.cart) return;
  const list = document.getElementById('cart');
  list.innerHTML = '';
  for (const [sku, n] of Object.entries(data.cart)) {
    const li = document.createElement('li');
    li.textContent = n + ' x ' + sku + ' ';
    const rm = document.createElement('button');
    rm.textContent = 'remove';
    rm.onclick = async () => show(await api('DELETE', 'cart/items/' + encodeURIComponent(sku)));
    li.append(rm);
    list.append(li);
  }
  document.getElementById('total').textContent = 'Total: ' + ((data.totalCents || 0) / 100).toFixed(2);
}
(async () => {
  // The cart first: its cookie is set before any button exists, so two quick first adds share one cart.
  show(await api('GET', 'cart'));
  const { products } = await api('GET', 'products');
  const box = document.getElementById('products');
  for (const p of products) {
    const b = document.createElement('button');
    b.textContent = 'Add ' + p.name + ' (' + (p.priceCents / 100).toFixed(2) + ')';
    b.onclick = async () => show(await api('POST', 'cart/items', { sku: p.sku }));
    box.append(b);
  }
  document.getElementById('checkout').onclick = async () => { const r = await api('POST', 'checkout'); show({ cart: {}, totalCents: 0 }); document.getElementById('status').textContent = 'Ordered ' + JSON.stringify(r.ordered); };
})();
</script>
</body></html>`;
}
