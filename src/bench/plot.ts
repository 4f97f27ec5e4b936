// A small SVG chart: time per product against batch size, one line per type, with each type's
// streaming floor as a dashed line. Log scales on both axes.
import type { BenchRow } from './gpu.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function plotSvg(rows: BenchRow[], title: string): string {
  const W = 760;
  const H = 440;
  const m = { l: 70, r: 150, t: 40, b: 50 };
  const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
  const ys = rows.flatMap((r) => [r.us, r.floorUs]).filter((v) => v > 0);
  const [x0, x1] = [Math.log2(batches[0]!), Math.log2(batches[batches.length - 1]!) || 1];
  const [y0, y1] = [Math.log10(Math.min(...ys) * 0.8), Math.log10(Math.max(...ys) * 1.25)];
  const px = (b: number) => m.l + ((Math.log2(b) - x0) / Math.max(1e-9, x1 - x0)) * (W - m.l - m.r);
  const py = (us: number) => H - m.b - ((Math.log10(us) - y0) / Math.max(1e-9, y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  out.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`);
  for (const b of batches) {
    out.push(`<line x1="${px(b)}" y1="${H - m.b}" x2="${px(b)}" y2="${H - m.b + 5}" stroke="black"/>`);
    out.push(`<text x="${px(b)}" y="${H - m.b + 18}" text-anchor="middle">${b}</text>`);
  }
  for (let e = Math.ceil(y0); e <= Math.floor(y1); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) < y0 || Math.log10(v) > y1) continue;
      out.push(`<line x1="${m.l}" y1="${py(v)}" x2="${W - m.r}" y2="${py(v)}" stroke="#eee"/>`);
      out.push(`<text x="${m.l - 6}" y="${py(v) + 4}" text-anchor="end">${v}</text>`);
    }
  }
  out.push(`<text x="${(W - m.r + m.l) / 2}" y="${H - 12}" text-anchor="middle">batch (columns of x)</text>`);
  out.push(`<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">microseconds per product</text>`);
  const types = [...new Set(rows.map((r) => r.type))];
  types.forEach((type, i) => {
    const color = COLORS[i % COLORS.length]!;
    const series = rows.filter((r) => r.type === type).sort((a, b) => a.batch - b.batch);
    const path = series.map((r, k) => `${k ? 'L' : 'M'}${px(r.batch).toFixed(1)},${py(r.us).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const r of series) out.push(`<circle cx="${px(r.batch)}" cy="${py(r.us)}" r="3" fill="${color}"><title>${esc(`${type} n=${r.batch}: ${r.us.toFixed(1)} us, ${(100 * r.fraction).toFixed(0)}% of floor, ${r.kernel}`)}</title></circle>`);
    const floor = series[0]!.floorUs;
    out.push(`<line x1="${m.l}" y1="${py(floor)}" x2="${W - m.r}" y2="${py(floor)}" stroke="${color}" stroke-dasharray="4 4"/>`);
    out.push(`<text x="${W - m.r + 10}" y="${m.t + 16 * i + 10}" fill="${color}">${esc(type)} (dashed: floor)</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function plotHtml(rows: BenchRow[], title: string): string {
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><body style="font-family:sans-serif">${plotSvg(rows, title)}</body>`;
}
