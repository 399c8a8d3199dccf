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

  // The timeline and key moments read every viewer's seconds: they come after the page.
  function timelineDraw(timeline) {
    const target = document.getElementById("timeline-chart");
    if (!timeline || !target || !timeline.traces.length) { return; }
    Plotly.newPlot(target, timeline.traces, {
      yaxis: { title: { text: timeline.label + " (points)" } },
      xaxis: { title: { text: "Second of the ad" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
      margin: { t: 10, r: 10 },
      hovermode: "closest",
    }, config).then(function () { target.dataset.rendered = "true"; });
  }

  function timelineLoad(section) {
    const moments = document.getElementById("key-moments");
    fetch(section.dataset.src, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        const fragment = new DOMParser().parseFromString(html, "text/html");
        const part = fragment.getElementById("timeline-part");
        section.replaceChildren(...part.childNodes);
        moments.replaceChildren(...fragment.getElementById("key-moments-part").childNodes);
        section.removeAttribute("aria-busy");
        moments.removeAttribute("aria-busy");
        const exportLink = document.getElementById("export-timeline");
        if (exportLink) {
          const url = new URL(exportLink.href);
          url.searchParams.set("bin_seconds", part.dataset.width);
          exportLink.href = url.toString();
        }
        const data = fragment.getElementById("timeline-chart-data");
        timelineDraw(data ? JSON.parse(data.textContent) : null);
      })
      .catch(function () {
        const note = document.getElementById("timeline-loading");
        if (note) { note.textContent = "The timeline could not be loaded: reload the page to try again."; }
      });
  }

  const timelineSection = document.getElementById("timeline");
  if (timelineSection && timelineSection.dataset.src) { timelineLoad(timelineSection); }

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

// Printed, the "how to read" panel is part of the page: open it (a closed <details> prints
// only its summary whatever the print stylesheet says).
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (panel) { panel.open = true; });
});
