// The staff dashboard: draws the charts from the JSON the page carries (#analytics-chart-data) and
// redraws them in place whenever the live refresh swaps in new figures. Polls only while the tab is
// visible. Without this script (or Chart.js) the page still shows every figure in its tables.
(function () {
  "use strict";

  const charts = {};

  function colours() {
    const style = getComputedStyle(document.documentElement);
    return {
      brand: style.getPropertyValue("--brand").trim() || "#0f766e",
      accent: style.getPropertyValue("--brand-accent").trim() || "#f59e0b",
      muted: "#94a3b8",
      ink: "#475569",
    };
  }

  function readData() {
    const holder = document.getElementById("analytics-chart-data");
    if (!holder || !holder.dataset.charts) return null;
    try {
      return JSON.parse(holder.dataset.charts);
    } catch (error) {
      return null;
    }
  }

  const wholeNumbers = { beginAtZero: true, ticks: { precision: 0 } };

  function configs(data, colour) {
    return {
      members: {
        type: "bar",
        data: {
          labels: data.members.labels,
          datasets: [
            { type: "bar", label: "New members", data: data.members.new, backgroundColor: colour.accent, yAxisID: "y" },
            {
              type: "line", label: "Active members", data: data.members.active, yAxisID: "y",
              borderColor: colour.brand, backgroundColor: colour.brand, tension: 0.25,
            },
            {
              type: "line", label: "Members in all", data: data.members.members, yAxisID: "members",
              borderColor: colour.muted, backgroundColor: colour.muted, borderDash: [4, 4], pointRadius: 0,
            },
          ],
        },
        options: {
          scales: {
            y: wholeNumbers,
            members: { position: "right", ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
          },
        },
      },
      points: {
        type: "bar",
        data: {
          labels: data.points.labels,
          datasets: [
            { label: "Issued", data: data.points.issued, backgroundColor: colour.brand },
            { label: "Redeemed", data: data.points.redeemed, backgroundColor: colour.accent },
          ],
        },
        options: { scales: { y: wholeNumbers } },
      },
      funnel: {
        type: "bar",
        data: {
          labels: data.funnel.labels,
          datasets: data.funnel.groups.map((group, index) => ({
            label: group.label,
            data: group.values,
            backgroundColor: [colour.brand, colour.accent, colour.muted][index % 3],
          })),
        },
        options: {
          indexAxis: "y",
          scales: { x: { stacked: true, ...wholeNumbers }, y: { stacked: true } },
        },
      },
    };
  }

  function draw() {
    if (typeof window.Chart === "undefined") return;
    const data = readData();
    if (!data) return;
    const all = configs(data, colours());
    for (const [name, config] of Object.entries(all)) {
      const canvas = document.getElementById("chart-" + name);
      if (!canvas) continue;
      const chart = charts[name];
      if (chart) {
        // Only the numbers change: update in place, without animation, so nothing jumps.
        chart.data.labels = config.data.labels;
        config.data.datasets.forEach((dataset, index) => {
          if (chart.data.datasets[index]) chart.data.datasets[index].data = dataset.data;
          else chart.data.datasets.push(dataset);
        });
        chart.update("none");
      } else {
        charts[name] = new window.Chart(canvas, {
          ...config,
          options: {
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            interaction: { mode: "index", intersect: false },
            plugins: { legend: { position: "bottom", labels: { color: colours().ink } } },
            ...config.options,
          },
        });
      }
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.target && event.target.id === "analytics-chart-data") draw();
  });
  // A dashboard left open in a background tab stops asking; the next tick after it comes back refreshes.
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "analytics-live" && document.hidden) event.preventDefault();
  });
})();
