// The dashboard in real headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. Started by tests/tests/dashboard.rs against a
// runner it seeded; one browser for the whole scenario:
//
// sign in (a wrong key refused first) → the overview's tiles show the
// seeded figures and the charts have data → the channel filter changes
// the numbers → the approval inbox approves the waiting order → its order
// page shows it confirmed with its price waterfall → no console errors.
// Screenshots go to $ARTIFACTS.
//
// Environment: BASE_URL, API_KEY (a manager who approves), EXPECT (JSON:
// revenue_all, revenue_b2b, b2b_channel_id, order_id), ARTIFACTS, CHROMIUM.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.BASE_URL;
const key = process.env.API_KEY;
const expect = JSON.parse(process.env.EXPECT || '{}');
const artifacts = process.env.ARTIFACTS || 'artifacts';
mkdirSync(artifacts, { recursive: true });

const errors = [];
function check(cond, message) {
  if (!cond) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let step = 'start';
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));

  step = 'sign in';
  await page.goto(`${base}/`);
  await page.fill('#api-key', 'not-a-key');
  await page.click('button[type=submit]');
  await page.waitForSelector('#signin-error:has-text("not accepted")');
  // The refused key's 401 is logged by the browser as a failed resource;
  // that one is expected.
  errors.length = 0;
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');

  step = 'overview';
  await page.waitForSelector('#kpi-revenue');
  const revenue = await page.textContent('#kpi-revenue .value');
  check(revenue.includes(expect.revenue_all), `revenue tile ${revenue} should show ${expect.revenue_all}`);
  const orders = await page.textContent('#kpi-orders .value');
  check(orders.trim() === String(expect.orders_all), `orders tile ${orders} should be ${expect.orders_all}`);
  for (const id of ['chart-trend', 'chart-channel', 'chart-territory']) {
    const points = Number(await page.getAttribute(`#${id}`, 'data-points'));
    check(points > 0, `${id} has no data points`);
  }
  // No quotations in this data set: the funnel is drawn, with zeros.
  check((await page.getAttribute('#chart-funnel', 'data-points')) === '0', 'the funnel is drawn');
  await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });

  step = 'filter';
  await page.selectOption('#f-channel', expect.b2b_channel_id);
  await page.waitForFunction(
    (want) => document.querySelector('#kpi-revenue .value')?.textContent.includes(want),
    expect.revenue_b2b,
    { timeout: 10000 },
  );
  await page.screenshot({ path: join(artifacts, 'overview-b2b.png'), fullPage: true });

  step = 'inbox';
  await page.click('#nav-inbox');
  await page.waitForSelector(`#inbox tr[data-id] button.approve`);
  const rows = await page.$$('#inbox tr[data-id]');
  check(rows.length === 1, `inbox should hold one request, has ${rows.length}`);
  await page.screenshot({ path: join(artifacts, 'inbox.png'), fullPage: true });
  await page.click('#inbox button.approve');
  await page.waitForSelector('#inbox-message:has-text("approved")');
  await page.waitForSelector('#inbox-empty');

  step = 'order page';
  // The jobs component confirms the order after the approval.
  let status = '';
  for (let i = 0; i < 50 && status !== 'confirmed'; i++) {
    await page.goto(`${base}/#/orders/${expect.order_id}`);
    await page.waitForSelector('#order-status');
    status = (await page.textContent('#order-status')).trim();
    if (status !== 'confirmed') await page.waitForTimeout(200);
  }
  check(status === 'confirmed', `the approved order is ${status}, not confirmed`);
  await page.waitForSelector('#waterfall');
  const waterfall = await page.textContent('#waterfall');
  check(waterfall.includes('Net total'), 'the waterfall shows the net total');
  const points = Number(await page.getAttribute('#chart-waterfall', 'data-points'));
  check(points > 0, 'the waterfall chart has bars');
  const lines = await page.textContent('#order-lines');
  check(/\d{4}-\d{2}-\d{2}/.test(lines), 'the order lines show promised dates');
  await page.screenshot({ path: join(artifacts, 'order.png'), fullPage: true });

  step = 'console';
  check(errors.length === 0, `console errors:\n${errors.join('\n')}`);
  console.log('dashboard browser test passed');
} catch (e) {
  console.error(`dashboard browser test failed at ${step}: ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
