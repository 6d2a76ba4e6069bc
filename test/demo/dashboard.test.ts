// The dashboard in headless Chromium (Debian's chromium driven by playwright-core) against the whole
// local stack: two quick first clicks in a fresh browser land in one cart (issue 12); fill the carts,
// kill the replicas that served them, and see the sticky cart gone while the stickless cart is intact.
// One stack for the file (the tests run serially). Saves a screenshot to test-artifacts/.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import test from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../demo/stack.ts';
import { waitFor } from '../helpers/servers.ts';

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // try the next name
    }
  }
  throw new Error('This test needs Chromium: apt-get install chromium (or set CHROMIUM_PATH).');
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent()) ?? '').trim();
}

let started: Promise<LocalStack> | undefined;
let launched: Promise<Browser> | undefined;
test.after.always(async () => {
  await (await launched?.catch(() => undefined))?.close();
  await (await started?.catch(() => undefined))?.stop();
});

/** The file's stack and browser, started by the first test (each test sets a bound that covers it). */
async function setUp(): Promise<{ stack: LocalStack; browser: Browser }> {
  // Two replicas per mode (six in all) keep the start light on a busy machine; the panes need no more.
  started ??= startLocalStack({ proxyPort: 0, adminPort: 0, sessiondPort: 0, replicasPerMode: 2, healthIntervalMs: 300 });
  launched ??= chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { stack: await started, browser: await launched };
}

test.serial('two quick first clicks in a fresh browser both land in one cart, in every pane', async (t) => {
  // A whole stack and a browser to start: on a busy machine that alone can take longer than ava's 60 s.
  t.timeout(180_000);
  const { stack, browser } = await setUp();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(stack.urls.dashboard, { waitUntil: 'domcontentloaded' });
  // Both clicks in one task, before any answer can arrive: the sharpest race a user can make.
  await page.evaluate(`for (const route of ['sticky', 'shop', 'token'])
    for (const sku of ['tea', 'mug']) document.querySelector('[data-testid="add-' + route + '-' + sku + '"]').click();`);
  for (const route of ['sticky', 'shop', 'token']) {
    await waitFor(async () => (await text(page, `count-${route}`)) === '2', 30_000, `${route} cart to hold 2 items`);
    t.regex(await text(page, `cart-${route}`), /1 x tea.*1 x mug|1 x mug.*1 x tea/s, route);
    // What the shop holds for this browser's cookie, not only what the page last showed.
    const held = await page.evaluate(async (r) => (await (await fetch(`/${r}/api/cart`)).json()) as { items: number }, route);
    t.is(held.items, 2, `${route}: the shop holds both items in the browser's cart`);
  }
  t.regex(await text(page, 'version-shop'), /^v\d+ \(token vouched v\d+\)/, 'the central pane shows its version token');
  t.regex(await text(page, 'version-token'), /^v2, cookie \d+ B/, 'the token pane shows its cart version and cookie size');
  await waitFor(async () => /^\d+% of \d+ reads$/.test(await text(page, 'cache-shop')), 30_000, 'the near-cache hit ratio of the central pane');
});

test.serial('killing the serving replicas loses the sticky cart and keeps the stickless cart', async (t) => {
  t.timeout(180_000);
  const { stack, browser } = await setUp();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(stack.urls.dashboard);
  await waitFor(async () => (await page.locator('#replicas tbody tr').count()) === 6, 30_000, 'the replica table');

  for (const route of ['sticky', 'shop']) {
    await page.getByTestId(`add-${route}-tea`).click();
    await waitFor(async () => (await text(page, `count-${route}`)) === '1', 30_000, `${route} cart to hold 1 item`);
    await page.getByTestId(`add-${route}-mug`).click();
    await waitFor(async () => (await text(page, `count-${route}`)) === '2', 30_000, `${route} cart to hold 2 items`);
  }
  const stickyReplica = await text(page, 'served-sticky');
  const shopReplica = await text(page, 'served-shop');
  t.regex(stickyReplica, /^local-\d$/);
  t.regex(shopReplica, /^central-\d$/);

  for (const replica of [stickyReplica, shopReplica]) {
    await page.getByTestId(`kill-${replica}`).click();
    await waitFor(async () => (await page.locator(`tr[data-replica="${replica}"] td:nth-child(3)`).textContent()) === 'killed', 30_000, `${replica} killed`);
  }

  await page.getByTestId('refresh-sticky').click();
  await waitFor(async () => /Error 503|Cart lost/.test(await text(page, 'status-sticky')), 30_000, 'the sticky cart to fail');
  t.regex(await text(page, 'status-sticky'), /Error 503.*PRX_ERR_PINNED_UPSTREAM_DOWN|Cart lost/);

  await page.getByTestId('refresh-shop').click();
  await waitFor(async () => (await text(page, 'served-shop')) !== shopReplica, 30_000, 'the shop cart to be served elsewhere');
  t.is(await text(page, 'status-shop'), 'OK');
  t.is(await text(page, 'count-shop'), '2', 'the stickless cart survived its replica');
  t.regex(await text(page, 'cart-shop'), /1 x tea.*1 x mug|1 x mug.*1 x tea/s);

  mkdirSync('test-artifacts', { recursive: true });
  await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
});
