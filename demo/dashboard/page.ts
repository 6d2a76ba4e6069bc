// The dashboard page: two carts side by side (sticky + local sessions vs. stickless + central
// sessions), which replica served each request, live per-replica load and health, and the buttons
// that kill or restart a replica and switch a route's affinity mode. Same origin as the shops, since
// the proxy serves all three.

export function renderDashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stickless dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
 h1{margin:0 0 .3rem} .muted{color:#777} .panes{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin:1rem 0}
 .pane{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem}
 .pane h2{margin-top:0;font-size:1.1rem} button{margin:.1rem;padding:.25rem .6rem}
 .served{font-weight:bold} .log{font:12px monospace;max-height:9rem;overflow:auto;background:#f4f4f4;padding:.4rem}
 .err{color:#b00020;font-weight:bold} .ok{color:#0a7d32} table{border-collapse:collapse;background:#fff}
 td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left} .bar{background:#4a7bd0;height:.6rem;display:inline-block}
</style></head>
<body>
<h1>stickless dashboard</h1>
<p class="muted">Left: the classic setup (carts in each replica's memory, hard-pinned). Right: carts in sessiond, soft affinity. Kill the replica that served a cart and compare.</p>
<div class="panes">
 ${pane('sticky', 'Sticky sessions, local carts', '/sticky/')}
 ${pane('shop', 'Stickless: central sessions', '/shop/')}
</div>
<h2>Replicas</h2>
<table id="replicas"><thead><tr><th>replica</th><th>mode</th><th>process</th><th>proxy state</th><th>in flight</th><th>requests</th><th>load</th><th></th></tr></thead><tbody></tbody></table>
<p class="muted" id="updated"></p>
<script>
const PRODUCTS = [['tea', 'Green tea'], ['mug', 'Mug'], ['honey', 'Honey']];
function el(id) { return document.getElementById(id); }
async function shopCall(route, method, path, body) {
  const res = await fetch('/' + route + '/api/' + path, { method, credentials: 'same-origin', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  const backend = res.headers.get('x-stickless-backend') || data.replica || '-';
  const affinity = res.headers.get('x-stickless-affinity') || '';
  el('served-' + route).textContent = backend;
  const line = document.createElement('div');
  line.textContent = new Date().toLocaleTimeString() + ' ' + method + ' ' + path + ' -> ' + res.status + ' ' + backend + (affinity ? ' (' + affinity + ')' : '');
  el('log-' + route).prepend(line);
  const status = el('status-' + route);
  if (!res.ok) {
    const detail = data.error && typeof data.error === 'object' ? data.error.code + ' ' + data.error.message : (data.error || '');
    status.textContent = 'Error ' + res.status + ': ' + detail + (res.headers.get('retry-after') ? ' (retry after ' + res.headers.get('retry-after') + ' s)' : '');
    status.className = 'err';
    el('cart-' + route).innerHTML = '<li class="muted">(cart unavailable)</li>';
    el('count-' + route).textContent = '-';
  } else if (data.cartLost) {
    status.textContent = 'Cart lost: the replica that held it is gone';
    status.className = 'err';
  } else { status.textContent = 'OK'; status.className = 'ok'; }
  if (data.cart) renderCart(route, data.cart);
  return data;
}
function renderCart(route, cart) {
  const list = el('cart-' + route);
  list.innerHTML = '';
  const entries = Object.entries(cart);
  el('count-' + route).textContent = String(entries.reduce((n, [, q]) => n + q, 0));
  for (const [sku, n] of entries) { const li = document.createElement('li'); li.textContent = n + ' x ' + sku; list.append(li); }
}
for (const route of ['sticky', 'shop']) {
  const box = el('buttons-' + route);
  for (const [sku, name] of PRODUCTS) {
    const b = document.createElement('button');
    b.textContent = 'Add ' + name; b.dataset.testid = 'add-' + route + '-' + sku;
    b.onclick = () => shopCall(route, 'POST', 'cart/items', { sku });
    box.append(b);
  }
  el('refresh-' + route).onclick = () => shopCall(route, 'GET', 'cart');
  el('mode-' + route).onchange = async (e) => {
    await fetch('/dashboard/api/routes/' + route + '/affinity', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ affinity: e.target.value }) });
    refresh();
  };
}
async function replicaAction(id, action) {
  await fetch('/dashboard/api/replicas/' + id + '/' + action, { method: 'POST' });
  refresh();
}
async function refresh() {
  const res = await fetch('/dashboard/api/state');
  if (!res.ok) return;
  const state = await res.json();
  for (const route of state.routes) { const select = el('mode-' + route.name); if (select && document.activeElement !== select) select.value = route.affinity; }
  const byId = new Map(state.backends.map((b) => [b.id, b]));
  const maxRequests = Math.max(1, ...state.backends.map((b) => b.requests));
  const body = document.querySelector('#replicas tbody');
  body.innerHTML = '';
  for (const r of state.replicas) {
    const b = byId.get(r.id) || {};
    const tr = document.createElement('tr');
    tr.dataset.replica = r.id;
    const cells = [r.id, r.mode, r.alive ? 'running' : 'killed', b.state || '?', b.inFlight ?? '-', b.requests ?? '-'];
    for (const c of cells) { const td = document.createElement('td'); td.textContent = String(c); tr.append(td); }
    const load = document.createElement('td');
    const bar = document.createElement('span'); bar.className = 'bar'; bar.style.width = Math.round(120 * (b.requests || 0) / maxRequests) + 'px';
    load.append(bar); tr.append(load);
    const actions = document.createElement('td');
    const kill = document.createElement('button'); kill.textContent = 'Kill'; kill.dataset.testid = 'kill-' + r.id; kill.disabled = !r.alive; kill.onclick = () => replicaAction(r.id, 'kill');
    const restart = document.createElement('button'); restart.textContent = 'Restart'; restart.dataset.testid = 'restart-' + r.id; restart.disabled = r.alive; restart.onclick = () => replicaAction(r.id, 'restart');
    actions.append(kill, restart); tr.append(actions);
    body.append(tr);
  }
  el('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>`;
}

function pane(route: 'sticky' | 'shop', title: string, path: string): string {
  return `<section class="pane" id="pane-${route}">
  <h2>${title} <small class="muted">${path}</small></h2>
  <label>affinity <select id="mode-${route}" data-testid="mode-${route}"><option>none</option><option>soft</option><option>hard</option></select></label>
  <div id="buttons-${route}"></div>
  <button id="refresh-${route}" data-testid="refresh-${route}">Refresh cart</button>
  <p>Served by <span class="served" id="served-${route}" data-testid="served-${route}">-</span> · items <b id="count-${route}" data-testid="count-${route}">0</b> · <span id="status-${route}" data-testid="status-${route}"></span></p>
  <ul id="cart-${route}" data-testid="cart-${route}"></ul>
  <div class="log" id="log-${route}"></div>
</section>`;
}
