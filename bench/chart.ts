/**
 * docs/bench.svg: each goal of issue 18 with the figure of every earlier run kept in bench/history
 * and of the latest bench/results.json, as a bar relative to the goal (1 = exactly on the goal,
 * shorter is better; a "at least" goal is drawn as goal / figure so that shorter is better too).
 *
 *   node --import tsx bench/chart.ts            redraws it from the files
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { figure, GOALS } from './goals.js';

const historyDir = fileURLToPath(new URL('./history/', import.meta.url));
const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));
const chartPath = fileURLToPath(new URL('../docs/bench.svg', import.meta.url));

interface Run {
  label: string;
  results: Record<string, unknown>;
}

const COLORS = ['#9aa5b1', '#52606d', '#2f80ed', '#27ae60'];
const escape = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

export function runsForChart(): Run[] {
  const runs: Run[] = readdirSync(historyDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ label: f.replace(/\.json$/, ''), results: JSON.parse(readFileSync(historyDir + f, 'utf8')) as Record<string, unknown> }))
    .sort((a, b) => String(a.results.date).localeCompare(String(b.results.date)));
  runs.push({ label: 'latest (bench/results.json)', results: JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown> });
  return runs.slice(-COLORS.length);
}

export function renderChart(runs: Run[]): string {
  const rowH = 14 * runs.length + 18;
  const left = 330;
  const barW = 360;
  const maxRatio = 4;
  const top = 40 + 16 * runs.length;
  const height = top + rowH * GOALS.length + 30;
  const width = left + barW + 150;
  const x1 = left + barW / maxRatio;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">npm run bench against the goals of issue 18 (bar = figure / goal; the line is the goal; shorter is better)</text>`,
  ];
  runs.forEach((run, i) => {
    out.push(
      `<rect x="10" y="${30 + 16 * i}" width="10" height="10" fill="${COLORS[i]}"/><text x="26" y="${39 + 16 * i}">${escape(run.label)}</text>`,
    );
  });
  GOALS.forEach((goal, g) => {
    const y = top + g * rowH;
    out.push(`<text x="10" y="${y + 12}">${escape(goal.what)}</text>`);
    out.push(`<text x="10" y="${y + 26}" fill="#666">goal ${goal.kind === 'max' ? '≤' : '≥'} ${goal.goal} ${escape(goal.unit)}</text>`);
    runs.forEach((run, i) => {
      const value = figure(run.results, goal.key);
      const by = y + 4 + 14 * i;
      if (value === undefined) {
        out.push(`<text x="${left}" y="${by + 10}" fill="#999">not measured</text>`);
        return;
      }
      const ratio =
        goal.goal === 0 ? (value === 0 ? 0 : maxRatio) : goal.kind === 'max' ? value / goal.goal : value > 0 ? goal.goal / value : maxRatio;
      const w = Math.max(1, (Math.min(ratio, maxRatio) / maxRatio) * barW);
      out.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="11" fill="${COLORS[i]}"/>`);
      out.push(`<text x="${left + w + 4}" y="${by + 10}">${value} ${escape(goal.unit)}${ratio > maxRatio ? ' (off scale)' : ''}</text>`);
    });
    out.push(`<line x1="${x1}" y1="${y}" x2="${x1}" y2="${y + rowH - 6}" stroke="#e74c3c" stroke-width="1.5"/>`);
  });
  out.push(
    `<text x="10" y="${height - 10}" fill="#666">bench/README.md says how each figure is measured; bench/results.json holds them with the goals.</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function writeChart(): void {
  writeFileSync(chartPath, renderChart(runsForChart()));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeChart();
  console.log(`written to ${chartPath}`);
}
