// The maintainer's page's plots of the last hour (uPlot): temperature, CPU, SD writes,
// memory. A series this machine cannot read says so instead of drawing a flat zero.

import uPlot from "/vendor/uplot/uPlot.esm.js";
import { known, mib, rate } from "./health_format.js";

const $ = (id) => document.getElementById(id);
const PLOT_HEIGHT = 150;
const MIN_SPAN_S = 300; // a plot shows at least five minutes, so one reading is a point
const charts = {}; // plot id -> uPlot

const PLOTS = [
  { id: "plot-temp", key: "cpu_temp_c", label: "°C", color: "#ff9f43", range: "around",
    value: (v) => `${v.toFixed(1)} °C` },
  { id: "plot-cpu", key: "cpu_percent", label: "%", color: "#5ac8fa", range: "percent",
    value: (v) => `${v.toFixed(0)} %` },
  { id: "plot-write", key: "disk_write_kib_s", label: "KiB/s", color: "#d09bff", range: "zero",
    value: (v) => rate(v) },
  { id: "plot-memory", key: "mem_available_mib", label: "MiB", color: "#7ee787", range: "zero",
    value: (v) => mib(v) },
];

function yRange(kind) {
  return (u, min, max) => {
    if (!known(min) || !known(max)) return [0, 1];
    if (kind === "percent") return [0, Math.max(100, Math.ceil(max))];
    if (kind === "zero") return [0, max > 0 ? max * 1.15 : 1];
    return [Math.floor(min - 3), Math.ceil(max + 3)];
  };
}

/** The history, with the newest reading if the history does not have it yet. */
function points(now, history) {
  const rows = history.filter((h) => known(h.at)).slice();
  if (now && known(now.at) && (!rows.length || now.at > rows[rows.length - 1].at)) {
    rows.push({ at: now.at, cpu_temp_c: now.cpu_temp_c, cpu_percent: now.cpu_percent,
      mem_available_mib: now.mem_available_mib, disk_free_mib: now.disk_free_mib,
      disk_write_kib_s: now.disk_write_kib_s, load1: now.load?.[0] ?? null });
  }
  return rows;
}

function plotWidth(el) {
  return Math.max(200, el.clientWidth - 10);
}

/** Draw (or update) every plot from the latest reading and the last hour. */
export function renderPlots(now, history) {
  const rows = points(now, history);
  const xs = rows.map((r) => r.at);
  for (const spec of PLOTS) {
    const el = $(spec.id);
    const ys = rows.map((r) => (known(r[spec.key]) ? r[spec.key] : null));
    if (!ys.some((v) => v !== null)) {
      charts[spec.id]?.destroy();
      delete charts[spec.id];
      el.classList.add("none");
      el.textContent = rows.length ? "unknown on this machine" : "No readings in the last hour";
      continue;
    }
    if (charts[spec.id]) {
      charts[spec.id].setData([xs, ys]);
      continue;
    }
    el.classList.remove("none");
    el.textContent = "";
    const axis = { stroke: "#ddd", grid: { stroke: "#333" }, ticks: { stroke: "#555" } };
    charts[spec.id] = new uPlot({
      width: plotWidth(el),
      height: PLOT_HEIGHT,
      scales: {
        // At least five minutes wide, so a single reading is a point, not a degenerate range.
        x: { time: true, range: (u, min, max) => [Math.min(min, max - MIN_SPAN_S), max + 5] },
        y: { range: yRange(spec.range) },
      },
      axes: [{ ...axis, space: 60 }, { ...axis, size: 52 }],
      series: [
        { label: "Time", value: (u, v) => (known(v) ? new Date(v * 1000).toLocaleTimeString() : "–") },
        {
          label: spec.label, stroke: spec.color, width: 2, spanGaps: false,
          fill: `${spec.color}22`,
          // Few readings: each one is a dot too (a lone reading between gaps still shows).
          points: { show: (u) => u.data[0].length <= 40, size: 5, fill: spec.color },
          value: (u, v) => (known(v) ? spec.value(v) : "unknown"),
        },
      ],
    }, [xs, ys], el);
  }
}

new ResizeObserver(() => {
  for (const spec of PLOTS) charts[spec.id]?.setSize({ width: plotWidth($(spec.id)), height: PLOT_HEIGHT });
}).observe(document.querySelector(".plots"));
