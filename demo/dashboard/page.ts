// The dashboard page: three carts side by side (sticky + local sessions, stickless + central
// sessions, token sessions in an encrypted cookie), which replica served each request, the version
// each pane's cart is at and the near-cache hit ratio of its replicas, live per-replica load and
// health, and the buttons that kill or restart a replica and switch a route's affinity mode. Same
// origin as the shops, since the proxy serves all of them.
//
// Each pane loads its cart when the page opens and sends its requests one at a time, in click order:
// the first add goes out only after the cart cookie arrived, so two quick first clicks land in one cart.
import { CATALOG } from '../cart-app/catalog.ts';

const PANES = [
  { route: 'sticky', title: 'Sticky sessions, local carts', note: 'carts in each replica\'s memory, hard-pinned' },
  { route: 'shop', title: 'Stickless: central sessions', note: 'carts in sessiond, soft affinity, near cache + version token' },
  { route: 'token', title: 'Token sessions', note: 'the cart in an encrypted cookie, no store, no affinity' },
] as const;

export function renderDashboardPage(): string {
  const products = JSON.stringify(CATALOG.map((p) => [p.sku, p.name]));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stickless dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
 h1{margin:0 0 .3rem} .muted{color:#777} .panes{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem;margin:1rem 0}
 .pane{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem}
 .pane h2{margin-top:0;font-size:1.1rem} button{margin:.1rem;padding:.25rem .6rem}
 .served{font-weight:bold} .log{font:12px monospace;max-height:9rem;overflow:auto;background:#f4f4f4;padding:.4rem}
 .err{color:#b00020;font-weight:bold} .ok{color:#0a7d32} table{border-collapse:collapse;background:#fff}
 td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left} .bar{background:#4a7bd0;height:.6rem;display:inline-block}
</style></head>
<body>
<h1>stickless dashboard</h1>
<p class="muted">Three ways to keep a cart. Kill the replica that served a cart and compare. The kill, restart and affinity actions answer this machine (loopback) only.</p>
<div class="panes">
 ${PANES.map((p) => pane(p.route, p.title, p.note)).join('\n ')}
</div>
<h2>Replicas</h2>
<table id="replicas"><thead><tr><th>replica</th><th>mode</th><th>process</th><th>proxy state</th><th>in flight</th><th>requests</th><th>load</th><th>near cache</th><th></th></tr></thead><tbody></tbody></table>
<p class="muted" id="updated"></p>
<script>
const PRODUCTS = ${products};
const ROUTES = ${JSON.stringify(PANES.map((p) => p.route))};
function el(id) { return document.getElementById(id); }
function newKey() { return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now(); }
// One queue per pane: a request starts when the previous one of that pane ended.
const queues = {};
function shopCall(route, method, path, body) {
  const run = () => send(route, method, path, body);
  queues[route] = (queues[route] || Promise.resolve()).then(run, run);
  return queues[route];
}
async function send(route, method, path, body) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (method !== 'GET') headers['idempotency-key'] = newKey();
  let res, data = {};
  try {
    res = await fetch('/' + route + '/api/' + path, { method, credentials: 'same-origin', headers, body: body ? JSON.stringify(body) : undefined });
    data = await res.json().catch(() => ({}));
  } catch (error) {
    res = { ok: false, status: 0, headers: new Headers() };
    data = { error: String(error) };
  }
  const backend = res.headers.get('x-stickless-backend') || data.replica || '-';
  const affinity = res.headers.get('x-stickless-affinity') || '';
  el('served-' + route).textContent = backend;
  const line = document.createElement('div');
  line.textContent = new Date().toLocaleTimeString() + ' ' + method + ' ' + path + ' -> ' + res.status + ' ' + backend + (affinity ? ' (' + affinity + ')' : '');
  el('log-' + route).prepend(line);
  const status = el('status-' + route);
  if (!res.ok) {
    const detail = data.error && typeof data.error === 'object' ? data.error.code + ' ' + data.error.message : ((data.code ? data.code + ' ' : '') + (data.error || ''));
    status.textContent = 'Error ' + res.status + ': ' + detail + (res.headers.get('retry-after') ? ' (retry after ' + res.headers.get('retry-after') + ' s)' : '');
    status.className = 'err';
    if (res.status !== 413) { el('cart-' + route).innerHTML = '<li class="muted">(cart unavailable)</li>'; el('count-' + route).textContent = '-'; }
  } else if (data.cartLost) {
    status.textContent = 'Cart lost: the replica or cookie that held it is gone';
    status.className = 'err';
  } else { status.textContent = 'OK'; status.className = 'ok'; }
  if (data.cart) renderCart(route, data.cart);
  if (typeof data.version === 'number') {
    el('version-' + route).textContent = route === 'sticky' ? 'none (local)' : 'v' + data.version + (route === 'shop' ? ' (token vouched v' + data.minVersion + ')' : '') + ', cookie ' + data.cookieBytes + ' B';
  }
  return data;
}
function renderCart(route, cart) {
  const list = el('cart-' + route);
  list.innerHTML = '';
  const entries = Object.entries(cart);
  el('count-' + route).textContent = String(entries.reduce((n, [, q]) => n + q, 0));
  for (const [sku, n] of entries) { const li = document.createElement('li'); li.textContent = n + ' x ' + sku; list.append(li); }
}
for (const route of ROUTES) {
  const box = el('buttons-' + route);
  for (const [sku, name] of PRODUCTS) {
    const b = document.createElement('button');
    b.textContent = 'Add ' + name; b.dataset.testid = 'add-' + route + '-' + sku;
    b.onclick = () => shopCall(route, 'POST', 'cart/items', { sku });
    box.append(b);
  }
  el('refresh-' + route).onclick = () => shopCall(route, 'GET', 'cart');
  el('mode-' + route).onchange = async (e) => {
    const res = await fetch('/dashboard/api/routes/' + route + '/affinity', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ affinity: e.target.value }) });
    if (!res.ok) { el('status-' + route).textContent = 'Error ' + res.status + ': ' + ((await res.json().catch(() => ({}))).error || ''); el('status-' + route).className = 'err'; }
    refresh();
  };
  shopCall(route, 'GET', 'cart');
}
async function replicaAction(id, action) {
  const res = await fetch('/dashboard/api/replicas/' + id + '/' + action, { method: 'POST' });
  if (!res.ok) el('updated').textContent = 'Error ' + res.status + ': ' + ((await res.json().catch(() => ({}))).error || '');
  refresh();
}
function ratio(hits, misses) { return hits + misses === 0 ? '-' : Math.round(100 * hits / (hits + misses)) + '%'; }
let refreshSeq = 0;
let shownSeq = 0;
async function refresh() {
  // Refreshes can overlap on a slow machine: an older answer never overwrites a newer one.
  const seq = ++refreshSeq;
  const res = await fetch('/dashboard/api/state');
  if (!res.ok) return;
  const state = await res.json();
  if (seq < shownSeq) return;
  shownSeq = seq;
  for (const route of state.routes) { const select = el('mode-' + route.name); if (select && document.activeElement !== select) select.value = route.affinity; }
  const byId = new Map(state.backends.map((b) => [b.id, b]));
  // Bars compare replicas with each other: the dashboard's own backend (its polling) is left out.
  const maxRequests = Math.max(1, ...state.replicas.map((r) => (byId.get(r.id) || {}).requests || 0));
  const cache = { hits: 0, misses: 0 };
  const body = document.querySelector('#replicas tbody');
  // Rows (and their buttons) are made once and updated in place: a table rebuilt every second
  // could swallow a click that lands while its button is being replaced.
  for (const r of state.replicas) {
    const b = byId.get(r.id) || {};
    const near = r.stats && r.stats.nearCache;
    if (near) { cache.hits += near.hits; cache.misses += near.misses; }
    let tr = body.querySelector('tr[data-replica="' + r.id + '"]');
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.replica = r.id;
      for (let i = 0; i < 8; i++) tr.append(document.createElement('td'));
      const bar = document.createElement('span'); bar.className = 'bar'; tr.children[6].append(bar);
      const actions = document.createElement('td');
      const kill = document.createElement('button'); kill.textContent = 'Kill'; kill.dataset.testid = 'kill-' + r.id; kill.onclick = () => replicaAction(r.id, 'kill');
      const restart = document.createElement('button'); restart.textContent = 'Restart'; restart.dataset.testid = 'restart-' + r.id; restart.onclick = () => replicaAction(r.id, 'restart');
      actions.append(kill, restart); tr.append(actions);
      body.append(tr);
    }
    const cells = [r.id, r.mode, r.alive ? 'running' : 'killed', b.state || '?', b.inFlight ?? '-', b.requests ?? '-'];
    cells.forEach((c, i) => { tr.children[i].textContent = String(c); });
    tr.children[6].firstChild.style.width = Math.round(120 * (b.requests || 0) / maxRequests) + 'px';
    tr.children[7].textContent = near ? ratio(near.hits, near.misses) + ' (' + near.hits + '/' + (near.hits + near.misses) + ')' : '-';
    tr.children[8].children[0].disabled = !r.alive;
    tr.children[8].children[1].disabled = r.alive;
  }
  el('cache-shop').textContent = ratio(cache.hits, cache.misses) + ' of ' + (cache.hits + cache.misses) + ' reads';
  el('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>`;
}

function pane(route: string, title: string, note: string): string {
  const cache = route === 'shop' ? '<span id="cache-shop" data-testid="cache-shop">-</span>' : `<span class="muted">${route === 'token' ? 'no store' : 'no store calls'}</span>`;
  return `<section class="pane" id="pane-${route}">
  <h2>${title} <small class="muted">/${route}/</small></h2>
  <p class="muted">${note}</p>
  <label>affinity <select id="mode-${route}" data-testid="mode-${route}"><option>none</option><option>soft</option><option>hard</option></select></label>
  <div id="buttons-${route}"></div>
  <button id="refresh-${route}" data-testid="refresh-${route}">Refresh cart</button>
  <p>Served by <span class="served" id="served-${route}" data-testid="served-${route}">-</span> · items <b id="count-${route}" data-testid="count-${route}">0</b> · <span id="status-${route}" data-testid="status-${route}"></span></p>
  <p class="muted">version <span id="version-${route}" data-testid="version-${route}">-</span> · near-cache hits ${cache}</p>
  <ul id="cart-${route}" data-testid="cart-${route}"></ul>
  <div class="log" id="log-${route}"></div>
</section>`;
}
