// Money stays a decimal string from the API; only display formatting here
// (Intl), never arithmetic on amounts.

export function money(m) {
  if (!m) return '–';
  const n = Number(m.amount);
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency: m.currency }).format(n);
  } catch {
    return `${m.amount} ${m.currency}`;
  }
}

export function pct(p) {
  return p === null || p === undefined ? '–' : `${p} %`;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

export function isoDate(d) {
  return d.toISOString().slice(0, 10);
}
