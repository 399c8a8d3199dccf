// The study page's counts, refreshed every 5 seconds while the page is open.
(function () {
  "use strict";
  const card = document.getElementById("counts");
  if (!card) return;
  async function refresh() {
    try {
      const response = await fetch(card.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const counts = await response.json();
      for (const cell of card.querySelectorAll("[data-count]")) {
        const value = counts[cell.dataset.count];
        if (value !== undefined) cell.textContent = value;
      }
    } catch (error) {
      // the next refresh tries again
    }
  }
  setInterval(refresh, 5000);
})();
