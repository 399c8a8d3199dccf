// The upload form sends its files with a progress bar and shows the server's errors in place.
(function () {
  const form = document.getElementById("upload-form");
  const bar = document.getElementById("upload-bar");
  const text = document.getElementById("upload-text");
  const error = document.getElementById("upload-error");
  // What to tell the uploader when the answer is not the page's own JSON (a proxy, a crash).
  function failure(status) {
    if (status === 413) return "The upload is larger than the server accepts; split it into smaller ZIPs.";
    if (status === 403) return "Your session has expired: reload the page, log in again and retry.";
    if (status >= 500) return "The server had a problem with this upload; please try again in a minute.";
    return "The upload failed; please try again.";
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new FormData(form);
    let size = 0;
    let chosen = 0;
    for (const value of data.values()) {
      // An input left empty still sends a File, with no name.
      if (value instanceof File && value.name) { size += value.size; chosen += 1; }
    }
    if (chosen === 0) {
      error.textContent = "Choose a ZIP, or photos and videos, first.";
      return;
    }
    if (size > Number(form.dataset.limit)) {
      error.textContent = "The files are larger than the upload limit.";
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", window.location.href);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const percent = Math.round(100 * e.loaded / e.total);
      bar.value = percent;
      text.textContent = "Uploading… " + percent + "% (" + (e.loaded / 1048576).toFixed(1) +
        " of " + (e.total / 1048576).toFixed(1) + " MiB)";
    });
    xhr.addEventListener("load", function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 201 && body.url) { window.location.href = body.url; return; }
      form.querySelector("button").disabled = false;
      error.textContent = (body.errors || [failure(xhr.status)]).join(" ");
    });
    xhr.addEventListener("error", function () {
      form.querySelector("button").disabled = false;
      error.textContent = "The connection was lost during the upload; please try again.";
    });
    error.textContent = "";
    form.querySelector("button").disabled = true;
    document.getElementById("upload-progress").hidden = false;
    xhr.send(data);
  });
})();
