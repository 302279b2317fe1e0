/** Small SVG line charts: per layer, attention entropy and mean distance against the step. */

export interface ChartSeries {
  layer: string;
  values: number[];
}

const COLORS = ['#3853d8', '#e0672b', '#1f9e58', '#b63fb3', '#8a6d1d', '#17a2b8', '#d33', '#555'];
const W = 300;
const H = 150;
const PAD = { left: 36, right: 8, top: 18, bottom: 24 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

function LineChart({ title, unit, series, selected, testId }: { title: string; unit: string; series: ChartSeries[]; selected: number; testId: string }) {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const yMax = niceMax(Math.max(0, ...finite));
  const x = (i: number) => PAD.left + (n === 1 ? 0.5 : i / (n - 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / yMax) * (H - PAD.top - PAD.bottom);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} data-testid={testId} role="img" aria-label={`${title} against the step`}>
      <text x={PAD.left} y={12} className="chart-title">
        {title} ({unit})
      </text>
      <line x1={PAD.left} y1={y(0)} x2={W - PAD.right} y2={y(0)} stroke="#9aa3b5" />
      <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={y(0)} stroke="#9aa3b5" />
      {[0, 0.5, 1].map((f) => (
        <text key={f} x={PAD.left - 4} y={y(f * yMax) + 3} textAnchor="end" className="chart-tick">
          {+(f * yMax).toFixed(2)}
        </text>
      ))}
      {[0, n - 1].map((i) => (
        <text key={i} x={x(i)} y={H - 8} textAnchor="middle" className="chart-tick">
          {i + 1}
        </text>
      ))}
      <text x={(PAD.left + W - PAD.right) / 2} y={H - 8} textAnchor="middle" className="chart-tick">
        step
      </text>
      <line x1={x(selected)} y1={PAD.top} x2={x(selected)} y2={y(0)} stroke="#1d2330" strokeDasharray="2 2" data-testid={`${testId}-cursor`} />
      {series.map((s, k) => (
        <polyline
          key={s.layer}
          fill="none"
          stroke={COLORS[k % COLORS.length]}
          strokeWidth={1.5}
          data-layer={s.layer}
          points={s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean).join(' ')}
        />
      ))}
    </svg>
  );
}

export function AttentionChart({ entropy, distance, selected }: { entropy: ChartSeries[]; distance: ChartSeries[]; selected: number }) {
  return (
    <div className="attention-chart" data-testid="attention-chart">
      <LineChart title="entropy" unit="nats" series={entropy} selected={selected} testId="chart-entropy" />
      <LineChart title="mean attention distance" unit="input px" series={distance} selected={selected} testId="chart-distance" />
      <ul className="chart-legend">
        {entropy.map((s, k) => (
          <li key={s.layer}>
            <span className="swatch" style={{ background: COLORS[k % COLORS.length] }} /> {s.layer}
          </li>
        ))}
      </ul>
    </div>
  );
}
