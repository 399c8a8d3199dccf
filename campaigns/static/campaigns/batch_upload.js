// The upload form sends its files with a progress bar and shows the server's errors in place.
(function () {
  const form = document.getElementById("upload-form");
  const bar = document.getElementById("upload-bar");
  const text = document.getElementById("upload-text");
  const error = document.getElementById("upload-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new FormData(form);
    let size = 0;
    for (const value of data.values()) { if (value instanceof File) size += value.size; }
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
      error.textContent = (body.errors || ["The upload failed (HTTP " + xhr.status + ")."]).join(" ");
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
