// The sales manager's morning page: sign in with an API key, then an
// overview (KPI tiles, revenue trend, breakdowns, funnel, leaderboard,
// pending lines), the approval inbox and an order page (price waterfall,
// promised dates, downstream work). A hash router keeps it one page.

import {
  Chart, LineController, BarController, DoughnutController, LineElement, BarElement,
  ArcElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend, Filler,
} from 'chart.js';
import { api, apiKey, signIn, signOut, query, ApiError } from './api.js';
import { money, pct, esc, isoDate } from './format.js';
import './style.css';

Chart.register(
  LineController, BarController, DoughnutController, LineElement, BarElement, ArcElement,
  PointElement, CategoryScale, LinearScale, Tooltip, Legend, Filler,
);
Chart.defaults.animation = false;

const app = document.getElementById('app');
const charts = [];
const filters = { days: '30', channel_id: '', territory_id: '' };

function clearCharts() {
  while (charts.length) charts.pop().destroy();
}

function chart(canvasId, config) {
  const el = document.getElementById(canvasId);
  if (!el) return;
  const c = new Chart(el, config);
  el.dataset.points = String(
    config.data.datasets.reduce((n, d) => n + d.data.filter((v) => Number(v) !== 0).length, 0),
  );
  charts.push(c);
}

function signInView(message = '') {
  clearCharts();
  app.innerHTML = `
    <main class="signin">
      <h1>Sales dashboard</h1>
      <form id="signin-form">
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required />
        <button type="submit">Sign in</button>
        <p class="error" id="signin-error">${esc(message)}</p>
      </form>
    </main>`;
  document.getElementById('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = document.getElementById('api-key').value.trim();
    try {
      await api('/api/v1/me', { key });
      signIn(key);
      route();
    } catch (err) {
      signInView(err instanceof ApiError && err.status === 401 ? 'That key was not accepted.' : err.message);
    }
  });
}

async function shell(active) {
  const me = await api('/api/v1/me');
  app.innerHTML = `
    <header>
      <strong>Sales</strong>
      <nav>
        <a href="#/" class="${active === 'overview' ? 'active' : ''}">Overview</a>
        <a href="#/inbox" class="${active === 'inbox' ? 'active' : ''}" id="nav-inbox">Approvals</a>
      </nav>
      <span class="me">${esc(me.name)} <button id="signout">Sign out</button></span>
    </header>
    <main id="main"><p class="loading">Loading…</p></main>`;
  document.getElementById('signout').addEventListener('click', () => {
    signOut();
    location.hash = '#/';
    signInView();
  });
  return document.getElementById('main');
}

function range() {
  const to = new Date();
  const from = new Date(to.getTime() - (Number(filters.days) - 1) * 86400000);
  return { from: isoDate(from), to: isoDate(to) };
}

function tile(id, label, value, change) {
  const c = change === null || change === undefined ? '' :
    `<span class="change ${String(change).startsWith('-') ? 'down' : 'up'}">${pct(change)} vs previous</span>`;
  return `<div class="tile" id="${id}"><span class="label">${label}</span>
    <span class="value">${value}</span>${c}</div>`;
}

function options(items, selected, all) {
  return [`<option value="">${all}</option>`]
    .concat(items.map((i) => `<option value="${esc(i.id)}" ${i.id === selected ? 'selected' : ''}>${esc(i.name)}</option>`))
    .join('');
}

async function overview() {
  const main = await shell('overview');
  const [channels, territories] = await Promise.all([
    api('/api/v1/channels?limit=200'),
    api('/api/v1/territories?limit=200'),
  ]);
  const r = range();
  const base = { ...r, channel_id: filters.channel_id, territory_id: filters.territory_id };
  const [sales, byChannel, byTerritory, funnel, people, targets, customers, products, pending] =
    await Promise.all([
      api(`/api/v1/analytics/sales${query(base)}`),
      api(`/api/v1/analytics/breakdown${query({ ...base, dimension: 'channel' })}`),
      api(`/api/v1/analytics/breakdown${query({ ...base, dimension: 'territory' })}`),
      api(`/api/v1/analytics/funnel${query({ ...r, channel_id: filters.channel_id, territory_id: filters.territory_id })}`),
      api(`/api/v1/analytics/breakdown${query({ ...base, dimension: 'sales_person' })}`),
      api(`/api/v1/analytics/targets${query(r)}`),
      api(`/api/v1/analytics/top-customers${query(base)}`),
      api(`/api/v1/analytics/top-products${query(base)}`),
      api(`/api/v1/analytics/pending-lines${query({ territory_id: filters.territory_id, limit: 20 })}`),
    ]);
  const t = sales.totals;
  main.innerHTML = `
    <section class="filters">
      <label>Period <select id="f-days">
        ${['7', '30', '90', '365'].map((d) => `<option value="${d}" ${d === filters.days ? 'selected' : ''}>Last ${d} days</option>`).join('')}
      </select></label>
      <label>Channel <select id="f-channel">${options(channels.items, filters.channel_id, 'All channels')}</select></label>
      <label>Territory <select id="f-territory">${options(territories.items, filters.territory_id, 'All territories')}</select></label>
      <span class="muted">${esc(sales.from)} – ${esc(sales.to)}, ${esc(sales.currency)}</span>
    </section>
    <section class="tiles">
      ${tile('kpi-revenue', 'Revenue', money(t.revenue), sales.change.revenue_percent)}
      ${tile('kpi-orders', 'Orders', t.orders, sales.change.orders_percent)}
      ${tile('kpi-aov', 'Average order', money(t.average_order_value))}
      ${tile('kpi-margin', 'Margin', `${money(t.margin)} <small>${pct(t.margin_percent)}</small>`, sales.change.margin_percent)}
      ${tile('kpi-conversion', 'Quote conversion', pct(funnel.conversion_rate_percent))}
    </section>
    <section class="grid">
      <div class="card wide"><h2>Revenue trend</h2><canvas id="chart-trend" height="90"></canvas></div>
      <div class="card"><h2>By channel</h2><canvas id="chart-channel"></canvas></div>
      <div class="card"><h2>By territory</h2><canvas id="chart-territory"></canvas></div>
      <div class="card"><h2>Quotation funnel</h2><canvas id="chart-funnel"></canvas>
        <p class="muted" id="lost-reasons">${funnel.lost_reasons.map((l) => `${esc(l.reason)}: ${l.count}`).join(', ') || 'No lost quotations'}</p></div>
      <div class="card"><h2>Team leaderboard</h2>${leaderboard(people, targets)}</div>
      <div class="card"><h2>Top customers</h2>${table(customers.items)}</div>
      <div class="card"><h2>Top products</h2>${table(products.items)}</div>
      <div class="card wide"><h2>Pending order lines</h2>${pendingTable(pending.items)}</div>
    </section>`;
  for (const [id, key] of [['f-days', 'days'], ['f-channel', 'channel_id'], ['f-territory', 'territory_id']]) {
    document.getElementById(id).addEventListener('change', (e) => {
      filters[key] = e.target.value;
      route();
    });
  }
  clearCharts();
  chart('chart-trend', {
    type: 'line',
    data: {
      labels: sales.series.map((p) => p.period),
      datasets: [
        { label: `Revenue (${sales.currency})`, data: sales.series.map((p) => p.revenue.amount), borderColor: '#2563eb', backgroundColor: 'rgba(37,99,235,.15)', fill: true },
        { label: `Margin (${sales.currency})`, data: sales.series.map((p) => p.margin.amount), borderColor: '#16a34a' },
      ],
    },
  });
  chart('chart-channel', {
    type: 'bar',
    data: {
      labels: byChannel.items.map((i) => i.label || 'none'),
      datasets: [{ label: 'Revenue', data: byChannel.items.map((i) => i.own.revenue.amount), backgroundColor: '#2563eb' }],
    },
    options: { plugins: { legend: { display: false } } },
  });
  const leaves = byTerritory.items.filter((i) => Number(i.own.revenue.amount) !== 0);
  chart('chart-territory', {
    type: 'doughnut',
    data: {
      labels: leaves.map((i) => i.label || 'No territory'),
      datasets: [{ data: leaves.map((i) => i.own.revenue.amount), backgroundColor: ['#2563eb', '#f59e0b', '#16a34a', '#dc2626', '#7c3aed', '#0891b2'] }],
    },
    options: { aspectRatio: 1.6 },
  });
  chart('chart-funnel', {
    type: 'bar',
    data: {
      labels: ['Created', 'Sent', 'Accepted', 'Ordered', 'Lost', 'Expired'],
      datasets: [{ label: 'Quotations', data: [funnel.created, funnel.sent, funnel.accepted, funnel.ordered, funnel.lost, funnel.expired], backgroundColor: '#7c3aed' }],
    },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  });
}

function table(items) {
  if (!items.length) return '<p class="muted">Nothing booked in this period.</p>';
  return `<table><tbody>${items.map((i) => `<tr><td>${esc(i.label || '–')}</td>
    <td class="num">${money(i.own.revenue)}</td><td class="num">${i.own.orders}</td></tr>`).join('')}</tbody></table>`;
}

function leaderboard(people, targets) {
  const bySubject = new Map();
  for (const t of targets.items) {
    const s = t.target.subject || {};
    if (s.id) bySubject.set(s.id, t);
  }
  if (!people.items.length) return '<p class="muted">No sales credited to a sales person yet.</p>';
  return `<table id="leaderboard"><thead><tr><th>Sales person</th><th class="num">Revenue</th><th class="num">Target</th><th class="num">Attainment</th></tr></thead><tbody>
    ${people.items.map((p) => {
      const t = bySubject.get(p.key);
      return `<tr><td>${esc(p.label || p.key)}</td><td class="num">${money(p.total.revenue)}</td>
        <td class="num">${t ? money({ amount: t.target.amount, currency: t.target.currency }) : '–'}</td>
        <td class="num">${t ? pct(t.attainment_percent) : '–'}</td></tr>`;
    }).join('')}</tbody></table>`;
}

function pendingTable(items) {
  if (!items.length) return '<p class="muted">Nothing waiting to ship.</p>';
  return `<table id="pending"><thead><tr><th>Order</th><th>Customer</th><th>Product</th><th class="num">Pending</th><th>Promised</th><th class="num">Days late</th></tr></thead><tbody>
    ${items.map((l) => `<tr class="${l.days_late > 0 ? 'late' : ''}"><td><a href="#/orders/${esc(l.order_id)}">${esc(l.order_number)}</a></td>
      <td>${esc(l.customer_name)}</td><td>${esc(l.product_name)}</td><td class="num">${esc(l.pending)}</td>
      <td>${esc(l.promised_date || '–')}</td><td class="num">${l.days_late}</td></tr>`).join('')}</tbody></table>`;
}

async function inbox() {
  const main = await shell('inbox');
  const list = await api('/api/v1/approvals?assignee=me&status=pending&limit=50');
  clearCharts();
  main.innerHTML = `<section class="card wide"><h2>Waiting for your decision</h2>
    ${list.items.length ? `<table id="inbox"><thead><tr><th>Document</th><th class="num">Total</th><th>Requested</th><th></th></tr></thead><tbody>
    ${list.items.map((a) => {
      const d = a.document || {};
      const doc = d.document || {};
      const link = doc.kind === 'order' ? `<a href="#/orders/${esc(doc.id)}">${esc(doc.number || doc.id)}</a>` : esc(doc.number || doc.id);
      return `<tr data-id="${esc(a.id)}"><td>${esc(doc.kind)} ${link}</td><td class="num">${money(d.total)}</td>
        <td>${esc((a.created_at || '').slice(0, 10))}</td>
        <td><button class="approve" data-id="${esc(a.id)}" data-version="${esc(d.version)}">Approve</button>
        <button class="reject" data-id="${esc(a.id)}" data-version="${esc(d.version)}">Reject</button></td></tr>`;
    }).join('')}</tbody></table>` : '<p class="muted" id="inbox-empty">Nothing waiting for you.</p>'}
    <p id="inbox-message" class="muted"></p></section>`;
  for (const b of main.querySelectorAll('button.approve, button.reject')) {
    b.addEventListener('click', async () => {
      const verdict = b.classList.contains('approve') ? 'approve' : 'reject';
      const body = { document_version: Number(b.dataset.version) };
      if (verdict === 'reject') body.comment = 'Rejected from the dashboard';
      try {
        await api(`/api/v1/approvals/${b.dataset.id}/${verdict}`, { method: 'POST', body });
        await inbox();
        document.getElementById('inbox-message').textContent = `Request ${verdict === 'approve' ? 'approved' : 'rejected'}.`;
      } catch (err) {
        document.getElementById('inbox-message').textContent = err.message;
      }
    });
  }
}

async function orderPage(id) {
  const main = await shell('order');
  const [o, wos, projects] = await Promise.all([
    api(`/api/v1/orders/${encodeURIComponent(id)}`),
    api(`/api/v1/work-orders${query({ order_id: id })}`),
    api(`/api/v1/projects${query({ order_id: id })}`),
  ]);
  const productIds = [...new Set((o.lines || []).map((l) => l.product_id))];
  const [customer, ...products] = await Promise.all([
    api(`/api/v1/customers/${encodeURIComponent(o.customer_id)}`).catch(() => null),
    ...productIds.map((p) => api(`/api/v1/products/${encodeURIComponent(p)}`).catch(() => null)),
  ]);
  const productName = new Map(productIds.map((p, i) => [p, products[i]?.name || p]));
  clearCharts();
  const w = o.waterfall || {};
  const totals = o.totals;
  const wlines = Array.isArray(w.lines) ? w.lines : [];
  main.innerHTML = `
    <section class="card wide">
      <h2>Order <span id="order-number">${esc(o.number)}</span> <span class="status" id="order-status">${esc(o.status)}</span></h2>
      <p class="muted">${esc(customer?.name || o.customer_id)} · ordered ${esc(o.order_date)} · version ${esc(o.version)}</p>
      ${totals ? `<p id="order-totals">Net ${money(totals.net_total)} · tax ${money(totals.tax_total)} · grand total <strong>${money(totals.grand_total)}</strong> · margin ${money(totals.margin_total)}</p>` : ''}
      <table id="order-lines"><thead><tr><th>Product</th><th class="num">Quantity</th><th class="num">Net</th><th>Promised</th><th>Source</th></tr></thead><tbody>
      ${(o.lines || []).map((l) => `<tr><td>${esc(productName.get(l.product_id))}</td><td class="num">${esc(l.quantity)} ${esc(l.uom)}</td>
        <td class="num">${money(l.pricing?.net_total)}</td><td>${esc(l.promised_date || '–')}</td><td>${esc(l.promise_source || '–')}</td></tr>`).join('')}
      </tbody></table>
    </section>
    <section class="card wide"><h2>Price waterfall</h2>
      ${wlines.length ? `<canvas id="chart-waterfall" height="80"></canvas><table id="waterfall"><tbody>
      ${wlines.map((l) => `
        <tr class="head"><td colspan="2">Line ${esc(l.line_no)} · ${esc(l.quantity)} × list ${money(l.list_price)}</td></tr>
        ${(l.adjustments || []).map((a) => `<tr><td>${esc(a.rule_name)}</td><td class="num">${money(a.amount_per_unit)} / unit</td></tr>`).join('')}
        <tr><td>Net unit price</td><td class="num">${money(l.net_unit_price)}</td></tr>
        <tr><td>Net total</td><td class="num">${money(l.net_total)}</td></tr>
        <tr><td>Tax</td><td class="num">${money(l.tax_total)}</td></tr>
        <tr><td>Gross total</td><td class="num">${money(l.gross_total)}</td></tr>`).join('')}
      </tbody></table>` : '<p class="muted" id="no-waterfall">Not priced yet (a draft).</p>'}
    </section>
    <section class="card wide"><h2>Downstream work</h2>
      <table id="downstream"><tbody>
      ${wos.items.map((x) => `<tr><td>Work order ${esc(x.number)}</td><td>${esc(x.status)}</td><td>${esc(x.quantity)} · ${esc(x.start_on)} → ${esc(x.finish_on)}</td></tr>`).join('')}
      ${projects.items.map((x) => `<tr><td>Project ${esc(x.number || x.id)}</td><td>${esc(x.status)}</td><td>${(x.tasks || []).length} task(s)</td></tr>`).join('')}
      </tbody></table>
      ${wos.items.length + projects.items.length ? '' : '<p class="muted">No manufacturing or project work for this order.</p>'}
    </section>`;
  if (wlines.length && totals) {
    // List → discounts → net → tax → grand total: totals stand on the
    // axis, changes float between the running sums (display only; the
    // amounts themselves come from the API as decimal strings).
    const n = (m) => Number(m?.amount ?? 0);
    const list = n(totals.list_total);
    const net = n(totals.net_total);
    const steps = [
      ['List', [0, list], '#94a3b8'],
      ['Discounts', [net, list], '#dc2626'],
      ['Net', [0, net], '#2563eb'],
      ['Tax', [net, net + n(totals.tax_total)], '#f59e0b'],
      ['Grand total', [0, n(totals.grand_total)], '#111827'],
    ];
    chart('chart-waterfall', {
      type: 'bar',
      data: {
        labels: steps.map(([k]) => k),
        datasets: [{ label: o.currency, data: steps.map(([, v]) => v), backgroundColor: steps.map(([, , c]) => c) }],
      },
      options: { plugins: { legend: { display: false } } },
    });
  }
}

async function route() {
  if (!apiKey()) return signInView();
  const hash = location.hash.replace(/^#/, '') || '/';
  try {
    const m = hash.match(/^\/orders\/([^/]+)$/);
    if (m) await orderPage(decodeURIComponent(m[1]));
    else if (hash === '/inbox') await inbox();
    else await overview();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut();
      return signInView('Your key is no longer valid.');
    }
    const main = document.getElementById('main') || app;
    main.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`;
  }
}

window.addEventListener('hashchange', route);
route();
