// Draws the Clarity charts with the vendored Chart.js (static/vendor/chart.umd.js, see VERSIONS.md).
// Each chart is a <canvas data-chart="ID"> next to <script type="application/json" id="ID">, a data block
// the browser never runs, so the Content-Security-Policy's "no inline script" holds. The tables under the
// charts carry every number; a chart is a picture of its table, nothing more.
"use strict";

(function () {
  // A calm, colour-blind-friendly palette (Okabe-Ito, blue first), muted by transparency for fills.
  const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999"];

  function format(unit, value) {
    if (value === null || value === undefined) {
      return "—";
    }
    if (unit === "usd") {
      return "$" + value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    if (unit === "rate") {
      return (value * 100).toFixed(1) + "%";
    }
    return Math.round(value).toLocaleString("en-US");
  }

  function config(spec) {
    const datasets = spec.datasets.map(function (set, index) {
      const colour = set.dashed ? "#5d6b7a" : COLOURS[index % COLOURS.length];
      return {
        label: set.label,
        data: set.data,
        borderColor: colour,
        backgroundColor: spec.kind === "bar" ? colour : colour + "33",
        borderWidth: 2,
        borderDash: set.dashed ? [6, 4] : [],
        pointRadius: set.dashed ? 0 : 2,
        type: set.dashed ? "line" : spec.kind,
        tension: 0,
      };
    });
    const ticks = { callback: function (value) { return format(spec.unit, value); } };
    return {
      type: spec.kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: 3,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: spec.stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true } },
          y: { stacked: spec.stacked, beginAtZero: true, ticks: ticks, max: spec.unit === "rate" ? 1 : undefined },
        },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + format(spec.unit, item.parsed.y); },
            },
          },
        },
      },
    };
  }

  function draw() {
    if (typeof Chart === "undefined") {
      return; // the library did not load: the tables still show every number
    }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const block = document.getElementById(canvas.dataset.chart);
      if (!block || Chart.getChart(canvas)) {
        return;
      }
      new Chart(canvas, config(JSON.parse(block.textContent)));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
