// Draws the dashboard's Plotly charts from the JSON the page embeds (json_script).
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  const config = { displaylogo: false, responsive: true };

  function chartData(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  const bars = chartData("bar-chart-data");
  const barTarget = document.getElementById("emotion-mix-chart");
  if (bars && barTarget && bars.traces.length && bars.traces[0].x.length) {
    Plotly.newPlot(barTarget, bars.traces, {
      barmode: "stack",
      yaxis: { title: { text: "Share of faces (%)" }, range: [0, 100] },
      legend: { orientation: "h", y: -0.2, traceorder: "normal" },
      margin: { t: 10, r: 10 },
    }, config).then(function () { barTarget.dataset.rendered = "true"; });
  }

  const timeline = chartData("timeline-chart-data");
  const timelineTarget = document.getElementById("timeline-chart");
  if (timeline && timelineTarget && timeline.traces.length) {
    Plotly.newPlot(timelineTarget, timeline.traces, {
      yaxis: { title: { text: timeline.label + " (points)" } },
      xaxis: { title: { text: "Second of the ad" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
      margin: { t: 10, r: 10 },
      hovermode: "closest",
    }, config).then(function () { timelineTarget.dataset.rendered = "true"; });
  }

  const days = chartData("days-chart-data");
  const daysTarget = document.getElementById("days-chart");
  if (days && daysTarget && days.days > 1) {
    Plotly.newPlot(daysTarget, days.traces, {
      yaxis: { title: { text: "Positive share of faces (%)" }, range: [0, 100] },
      // Dates only: uploads are counted per day, never per hour.
      xaxis: { title: { text: "Upload day" }, type: "date", tickformat: "%b %d", dtick: 86400000 },
      legend: { orientation: "h", y: -0.3 },
      margin: { t: 10, r: 10 },
    }, config).then(function () { daysTarget.dataset.rendered = "true"; });
  }
})();
