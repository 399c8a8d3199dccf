// The batch page follows its batch live: polls its status JSON until it is finished.
(function () {
  const box = document.getElementById("batch");
  if (box.dataset.finished === "1") return;
  const bar = document.getElementById("bar");
  function poll() {
    fetch(box.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        document.getElementById("stage").textContent = s.stage;
        for (const key of ["processed", "failed", "duplicates", "skipped", "faces"]) {
          document.getElementById(key).textContent = s[key];
        }
        document.getElementById("model").textContent = s.model_version || "—";
        document.getElementById("error").textContent = s.error;
        bar.max = Math.max(1, s.to_analyse);
        bar.value = s.analysed;
        if (s.finished) { window.location.reload(); } else { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
