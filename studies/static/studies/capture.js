// The viewer's page of a study: consent, camera check, the ads played while webcam frames are
// captured at the study's rate and stamped with the ad's own playback time, sent in small
// chunks (retried after a network error: the server keeps each frame index once), then the
// redirect. Served from this site; it talks to this site only.
(function () {
  "use strict";
  const root = document.getElementById("capture");
  if (!root || !document.getElementById("step-consent")) return;
  const base = root.dataset.base;
  const query = Object.fromEntries(new URLSearchParams(window.location.search));
  const CHUNK_FRAMES = 10;
  const SEND_EVERY_MS = 1000;
  const CHECK_TRIES = 3;
  let token = null;
  let plan = null;
  let stream = null;
  let ended = false;
  let checkFailures = 0;
  const queue = []; // frames waiting to be sent: {ad, i, t, l, blob}

  const $ = (id) => document.getElementById(id);
  function show(id) {
    for (const step of document.querySelectorAll(".step")) step.hidden = step.id !== id;
  }

  async function api(path, body) {
    const headers = {};
    if (token) headers["X-Capture-Token"] = token;
    let payload = body;
    if (!(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body || {});
    }
    const response = await fetch(base + "api/" + path, {
      method: "POST", headers: headers, body: payload, credentials: "omit", cache: "no-store",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error || ("The server answered " + response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function cameraStop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }

  function leave(result, title, message) {
    ended = true;
    cameraStop();
    const stage = $("stage");
    if (stage) stage.replaceChildren();
    $("done-title").textContent = title;
    $("done-message").textContent = message + (result && result.redirect ? " Taking you back…" : "");
    show("step-done");
    $("withdraw").hidden = !token || (result && result.status === "withdrawn");
    root.dataset.outcome = (result && result.status) || "";
    if (result && result.redirect) setTimeout(() => window.location.assign(result.redirect), 1200);
  }

  async function finish(outcome, reason) {
    try {
      const result = await api("finish", { outcome: outcome, reason: reason });
      const titles = {
        completed: ["Thank you", "You are done."],
        declined: ["No camera", "The study needs your camera, so it ends here. Thank you."],
        failed: ["We could not record", "We could not see your face well enough. Thank you for trying."],
      };
      const [title, message] = titles[result.status] || titles.completed;
      leave(result, title, message);
    } catch (error) {
      leave(null, "Something went wrong", error.message);
    }
  }

  async function cameraOpen() {
    return navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  }

  function grab(video, canvas) {
    // The camera's current picture on the canvas (at most 480 wide), and its mean luma.
    const scale = Math.min(1, 480 / (video.videoWidth || 480));
    canvas.width = Math.round((video.videoWidth || 320) * scale);
    canvas.height = Math.round((video.videoHeight || 240) * scale);
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    let count = 0;
    for (let k = 0; k < pixels.length; k += 64) {
      sum += 0.299 * pixels[k] + 0.587 * pixels[k + 1] + 0.114 * pixels[k + 2];
      count += 1;
    }
    return count ? sum / count : 0;
  }

  function jpeg(canvas) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Consent ---------------------------------------------------------------------------------
  $("decline").addEventListener("click", async () => {
    try {
      leave(await api("decline", { query: query }), "Thank you", "Nothing was recorded.");
    } catch (error) {
      leave(null, "Thank you", "Nothing was recorded.");
    }
  });

  $("agree").addEventListener("click", async () => {
    $("agree").disabled = true;
    try {
      plan = await api("start", { query: query });
    } catch (error) {
      leave(null, "Sorry", error.message);
      return;
    }
    token = plan.token;
    $("ad-count").textContent = plan.ads.length > 1 ? plan.ads.length + " short videos" : "a short video";
    show("step-camera");
    cameraCheck();
  });

  // Camera check ----------------------------------------------------------------------------
  async function cameraCheck() {
    const message = $("camera-message");
    $("retry").hidden = true;
    message.className = "";
    try {
      stream = await cameraOpen();
    } catch (error) {
      const refused = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      await finish(refused ? "declined" : "failed", refused ? "camera refused" : "no camera");
      return;
    }
    const preview = $("preview");
    preview.srcObject = stream;
    await preview.play().catch(() => {});
    message.textContent = "Checking that we can see your face…";
    await sleep(600);
    const canvas = document.createElement("canvas");
    const form = new FormData();
    for (let k = 0; k < 3; k += 1) {
      grab(preview, canvas);
      form.append("frame", await jpeg(canvas), "check-" + k + ".jpg");
      await sleep(300);
    }
    let result;
    try {
      result = await api("check", form);
    } catch (error) {
      result = { ok: false, message: error.message };
    }
    if (result.ok) {
      message.textContent = result.message;
      cameraStop();
      show("step-ready");
      return;
    }
    checkFailures += 1;
    if (checkFailures >= CHECK_TRIES) {
      await finish("failed", result.problem || "camera check failed");
      return;
    }
    message.textContent = result.message;
    message.className = "problem";
    $("retry").hidden = false;
  }
  $("retry").addEventListener("click", () => { cameraStop(); cameraCheck(); });

  // Watching --------------------------------------------------------------------------------
  $("start").addEventListener("click", async () => {
    $("start").disabled = true;
    try {
      // The camera opens again for the ads (it was off while the viewer read the page).
      stream = await cameraOpen();
    } catch (error) {
      await finish("declined", "camera refused");
      return;
    }
    const camera = document.createElement("video");
    camera.muted = true;
    camera.playsInline = true;
    camera.srcObject = stream;
    await camera.play().catch(() => {});
    show("step-watch");
    const sender = sendLoop();
    for (const ad of plan.ads) {
      if (ended) return;
      try {
        await watch(ad, camera);
      } catch (error) {
        if (!ended) leave(null, "Sorry", error.message);
        return;
      }
    }
    sending = false;
    await sender;
    if (!ended) await finish("completed", "");
  });

  let sending = true;
  async function sendLoop() {
    let wait = SEND_EVERY_MS;
    while (sending && !ended) {
      await sleep(wait);
      wait = (await sendSome()) ? SEND_EVERY_MS : Math.min(wait * 2, 8000);
    }
  }

  let busy = false;
  async function sendSome() {
    // One chunk of the oldest ad's waiting frames; false after a failure (retried later).
    if (!queue.length || busy) return true;
    busy = true;
    try {
      return await sendChunk();
    } finally {
      busy = false;
    }
  }

  async function sendChunk() {
    const ad = queue[0].ad;
    const chunk = queue.filter((frame) => frame.ad === ad).slice(0, CHUNK_FRAMES);
    const form = new FormData();
    form.append("meta", JSON.stringify(chunk.map((f) => ({ i: f.i, t: f.t, l: f.l }))));
    for (const frame of chunk) form.append("f" + frame.i, frame.blob, "f" + frame.i + ".jpg");
    try {
      await api("ads/" + ad + "/frames", form);
    } catch (error) {
      if (error.status === 403 || error.status === 409) {
        ended = true;
        leave(null, "Recording stopped", error.message);
      }
      return false;
    }
    for (const frame of chunk) {
      const k = queue.indexOf(frame);
      if (k >= 0) queue.splice(k, 1);
    }
    return true;
  }

  async function flush(ad, seconds) {
    // Every frame of the ad sent (with retries) before it is closed.
    const deadline = performance.now() + seconds * 1000;
    let wait = 200;
    while (!ended && queue.some((f) => f.ad === ad) && performance.now() < deadline) {
      wait = (await sendSome()) ? 50 : Math.min(wait * 2, 4000);
      await sleep(wait);
    }
  }

  async function watch(ad, camera) {
    await api("ads/" + ad.id + "/start", {});
    const stage = $("stage");
    const canvas = document.createElement("canvas");
    let element;
    let clock;
    let done;
    if (ad.kind === "video") {
      element = document.createElement("video");
      element.playsInline = true;
      element.preload = "auto";
      element.src = ad.url;
      let watched = 0;
      // No seeking: a jump is undone.
      element.addEventListener("timeupdate", () => {
        if (!element.seeking && element.currentTime > watched) watched = element.currentTime;
      });
      element.addEventListener("seeking", () => {
        if (Math.abs(element.currentTime - watched) > 0.5) element.currentTime = watched;
      });
      clock = () => element.currentTime;
      done = new Promise((resolve, reject) => {
        element.addEventListener("ended", () => resolve(element.duration || watched));
        element.addEventListener("error", () => reject(new Error("The video could not be played.")));
      });
      stage.replaceChildren(element);
      try {
        await element.play();
      } catch (error) {
        element.muted = true;
        await element.play();
      }
    } else {
      element = document.createElement("img");
      element.src = ad.url;
      element.alt = "";
      stage.replaceChildren(element);
      await new Promise((resolve) => { element.onload = resolve; element.onerror = resolve; });
      const shown = performance.now();
      clock = () => (performance.now() - shown) / 1000;
      done = sleep(ad.seconds * 1000).then(() => ad.seconds);
    }
    let index = 0;
    const capture = setInterval(() => {
      if (ended || (ad.kind === "video" && (element.paused || element.ended))) return;
      const t = clock();
      // The ad's last instant (its end) shows nothing more: no frame there.
      const length = ad.kind === "video" ? element.duration : ad.seconds;
      if (length && t >= length) return;
      const l = grab(camera, canvas);
      const i = index;
      index += 1;
      jpeg(canvas).then((blob) => {
        if (blob) queue.push({ ad: ad.id, i: i, t: Math.round(t * 1000) / 1000, l: l, blob: blob });
      });
    }, 1000 / plan.fps);
    const played = await done;
    clearInterval(capture);
    await sleep(100);
    await flush(ad.id, 60);
    if (ended) return;
    await api("ads/" + ad.id + "/end", { played_seconds: played });
  }

  // Stop and delete my data -----------------------------------------------------------------
  $("withdraw").addEventListener("click", async () => {
    ended = true;
    sending = false;
    queue.length = 0;
    cameraStop();
    if (!token) {
      try {
        leave(await api("decline", { query: query }), "Stopped", "Nothing was recorded.");
      } catch (error) {
        leave(null, "Stopped", "Nothing was recorded.");
      }
      return;
    }
    try {
      leave(await api("withdraw", {}), "Deleted", "Everything recorded of you has been deleted.");
    } catch (error) {
      leave(null, "Sorry", "Deleting failed: " + error.message + " Please try again.");
      ended = false;
    }
  });
})();
