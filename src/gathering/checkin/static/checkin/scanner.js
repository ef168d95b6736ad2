// The gate scanner (see gathering/checkin/views.py): camera or photo (jsQR), or a typed code.
//
// Online, every scan goes to the check-in API, which decides (it knows the other gates).
// Offline, or when the API does not answer, the phone decides: ticket-verify.js checks the
// signature against the gate bundle (public keys and revoked tickets, kept in localStorage),
// and the entries this phone has seen flag duplicates. Every scan is queued with its nonce
// until the API has it, so a retry never counts twice. No names ever reach this page.
//
// Configuration and every text come from data attributes of #scanner (no inline script).

const root = document.getElementById("scanner");
const config = JSON.parse(root.dataset.config);
const texts = JSON.parse(root.dataset.messages);

const STORE = "gathering.checkin.";
const BUNDLE_KEY = `${STORE}bundle.${config.year}`;
const PRESENCE_KEY = `${STORE}presence.${config.year}`;
const QUEUE_KEY = `${STORE}queue`;
const DEVICE_KEY = `${STORE}device`;
const MAX_BATCH = 200;
const REQUEST_TIMEOUT_MS = 5000;
const SYNC_EVERY_MS = 15000;
const BUNDLE_EVERY_MS = 5 * 60 * 1000;
const SAME_CODE_PAUSE_MS = 3000;

const $ = (id) => document.getElementById(id);
const resultBox = $("result");
const resultTitle = $("result-title");
const resultReason = $("result-reason");
const resultDetail = $("result-detail");
const networkStatus = $("network-status");
const queueStatus = $("queue-status");
const bundleStatus = $("bundle-status");
const video = $("camera-video");
const canvas = $("camera-canvas");
const cameraButton = $("camera-toggle");

let verifier = null;
let bundle = null;
let signedOut = false;

// --- small helpers ---------------------------------------------------------------------------

function fill(template, values) {
  return String(template).replace(/%\((\w+)\)s/g, (match, name) =>
    name in values ? String(values[name]) : match,
  );
}

const timeFormat = new Intl.DateTimeFormat(config.language, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: config.timeZone,
});
const dateTimeFormat = new Intl.DateTimeFormat(config.language, {
  dateStyle: "short",
  timeStyle: "short",
  timeZone: config.timeZone,
});
const numberFormat = new Intl.NumberFormat(config.language);

function readJSON(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

function writeJSON(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or refused: the scan still goes out while the page stays open.
  }
}

function randomHex(bytes) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `web-${randomHex(8)}`;
    try {
      localStorage.setItem(DEVICE_KEY, id);
    } catch {
      // a new id per page load is acceptable
    }
  }
  return id;
}

function csrfToken() {
  const name = `${config.csrfCookie}=`;
  for (const part of document.cookie.split(";")) {
    const cookie = part.trim();
    if (cookie.startsWith(name)) return decodeURIComponent(cookie.slice(name.length));
  }
  return "";
}

async function fetchWithTimeout(url, options = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    return await fetch(url, { credentials: "same-origin", ...options, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

// One thing at a time: scans and syncs run in order, so a queue is never sent twice at once.
let chain = Promise.resolve();
function serial(task) {
  const next = chain.then(task);
  chain = next.catch(() => {});
  return next;
}

// --- state on this phone ---------------------------------------------------------------------

const readQueue = () => readJSON(QUEUE_KEY, []);
const writeQueue = (queue) => {
  writeJSON(QUEUE_KEY, queue);
  showQueue(queue.length);
};
const readPresence = () => readJSON(PRESENCE_KEY, {});

function remember(ticketId, inside, gate, gateName, time) {
  if (!ticketId) return;
  const presence = readPresence();
  presence[ticketId] = { inside, gate, gateName, time };
  writeJSON(PRESENCE_KEY, presence);
}

function loadStoredBundle() {
  const text = localStorage.getItem(BUNDLE_KEY);
  if (!text || !verifier) return;
  try {
    bundle = verifier.decodeGateBundle(text);
    showBundle();
  } catch {
    bundle = null;
  }
}

async function refreshBundle() {
  if (!navigator.onLine || !verifier) return;
  try {
    const response = await fetchWithTimeout(config.bundleUrl);
    if (response.status === 401 || response.status === 403) {
      showSignedOut();
      return;
    }
    if (!response.ok) return;
    const text = await response.text();
    bundle = verifier.decodeGateBundle(text); // throws on anything else than a bundle
    try {
      localStorage.setItem(BUNDLE_KEY, text);
    } catch {
      // kept in memory only
    }
    showBundle();
  } catch {
    // offline or a bad answer: keep the bundle we have
  }
}

// --- what the person at the gate sees --------------------------------------------------------

function show({ ok, status, reason, detail = "", exit = false, source }) {
  resultBox.classList.remove("result--idle", "result--ok", "result--bad");
  resultBox.classList.add(ok ? "result--ok" : "result--bad");
  resultBox.dataset.status = status;
  resultBox.dataset.source = source;
  resultTitle.textContent = ok ? (exit ? texts.title_exit_ok : texts.title_ok) : texts.title_bad;
  resultReason.textContent = reason;
  resultDetail.textContent = detail;
}

function showNetwork() {
  const online = navigator.onLine;
  networkStatus.dataset.online = String(online);
  networkStatus.textContent = online ? texts.online : texts.offline;
}

function showQueue(count) {
  queueStatus.dataset.count = String(count);
  let text = count ? fill(texts.queue, { count: numberFormat.format(count) }) : "";
  if (signedOut && count) text += ` — ${texts.signed_out}`;
  queueStatus.textContent = text;
}

function showBundle() {
  if (!bundle) return;
  bundleStatus.textContent = fill(texts.bundle, {
    time: dateTimeFormat.format(bundle.generatedAt),
    count: numberFormat.format(bundle.revoked.size),
  });
}

function showSignedOut() {
  signedOut = true;
  showQueue(readQueue().length);
}

function categoryLabel(category) {
  return category ? config.categories[String(category)] || "" : "";
}

// --- deciding --------------------------------------------------------------------------------

async function decideHere(code, direction) {
  if (!bundle) return { ok: false, status: "no_bundle", reason: texts.no_bundle };
  const verdict = await verifier.verifyTicket(code, bundle, Date.now());
  const base = { ticketId: verdict.ticketId, category: verdict.category };
  if (verdict.status !== "valid") {
    return { ...base, ok: false, status: verdict.status, reason: texts[verdict.status] };
  }
  const known = readPresence()[verdict.ticketId];
  const when = known ? { gate: known.gateName, time: timeFormat.format(new Date(known.time)) } : {};
  if (direction === "entry" && known && known.inside) {
    return { ...base, ok: false, status: "already_inside", reason: fill(texts.already_inside_at, when) };
  }
  if (direction === "exit" && known && !known.inside) {
    return { ...base, ok: false, status: "already_left", reason: fill(texts.already_left_at, when) };
  }
  const reason = direction === "exit" ? texts.valid_exit : texts.valid_entry;
  return { ...base, ok: true, status: "valid", reason };
}

function learnFromServer(result) {
  const gateName = (slug) => config.gates[slug] || slug;
  if (result.status === "valid") {
    remember(
      result.ticket_id,
      result.direction === "entry",
      result.gate,
      gateName(result.gate),
      Date.parse(result.server_time),
    );
  } else if ((result.status === "already_inside" || result.status === "already_left") && result.previous) {
    remember(
      result.ticket_id,
      result.status === "already_inside",
      result.previous.gate,
      result.previous.gate_name,
      Date.parse(result.previous.time),
    );
  }
}

// Send what is queued, oldest first; returns the results by nonce. Throws when the network or
// the server fails (the queue stays as it is).
async function sendQueue() {
  const results = new Map();
  for (let round = 0; round < 50; round++) {
    const queue = readQueue();
    if (!queue.length) break;
    const url = queue[0].url;
    const batch = queue.filter((item) => item.url === url).slice(0, MAX_BATCH);
    const response = await fetchWithTimeout(`${url}?lang=${encodeURIComponent(config.language)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({
        device_id: deviceId(),
        scans: batch.map(({ nonce, code, direction, deviceTime, offline }) => ({
          nonce,
          code,
          direction,
          device_time: deviceTime,
          offline,
        })),
      }),
    });
    if (response.status === 401 || response.status === 403) {
      showSignedOut();
      throw new Error("signed out");
    }
    const sent = new Set(batch.map((item) => item.nonce));
    if (response.status >= 400 && response.status < 500) {
      // Refused as a whole (it can never pass): drop it rather than block the queue.
      writeQueue(readQueue().filter((item) => !sent.has(item.nonce)));
      continue;
    }
    if (!response.ok) throw new Error(`server answered ${response.status}`);
    const data = await response.json();
    signedOut = false;
    for (const result of data.results) {
      results.set(result.nonce, result);
      learnFromServer(result);
    }
    writeQueue(readQueue().filter((item) => !sent.has(item.nonce)));
  }
  return results;
}

async function sync() {
  if (!navigator.onLine || !readQueue().length) return;
  try {
    await sendQueue();
  } catch {
    // try again later
  }
}

async function scan(code) {
  const direction = root.querySelector("input[name=direction]:checked").value;
  const item = {
    nonce: randomHex(16),
    code,
    direction,
    deviceTime: new Date().toISOString(),
    offline: false,
    url: config.scansUrl,
  };
  const started = performance.now();
  const local = await decideHere(code, direction);
  root.dataset.verifyMs = (performance.now() - started).toFixed(3);
  writeQueue([...readQueue(), item]);

  if (navigator.onLine) {
    try {
      const result = (await sendQueue()).get(item.nonce);
      if (result) {
        show({
          ok: result.accepted,
          status: result.status,
          reason: result.message,
          detail: categoryLabel(result.category),
          exit: direction === "exit",
          source: "server",
        });
        return;
      }
    } catch {
      // no answer: decide here, like offline
    }
  }
  // Decided here: the scan waits in the queue, marked as decided offline.
  writeQueue(readQueue().map((queued) => (queued.nonce === item.nonce ? { ...queued, offline: true } : queued)));
  if (local.ok) {
    remember(local.ticketId, direction === "entry", config.gate, config.gateName, Date.now());
  }
  const detail = [categoryLabel(local.category), texts.decided_offline].filter(Boolean).join(" · ");
  show({ ...local, detail, exit: direction === "exit", source: "local" });
}

// --- inputs: typed code, photo, camera -------------------------------------------------------

$("manual-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("manual-code");
  // Typed codes: spaces and case do not matter (the code is upper-case base32).
  const code = input.value.replace(/\s+/g, "").toUpperCase();
  input.value = "";
  if (code) serial(() => scan(code));
});

function decodeImage(source, width, height, inversion) {
  const scale = Math.min(1, 1600 / Math.max(width, height));
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  const found = window.jsQR(image.data, image.width, image.height, {
    inversionAttempts: inversion,
  });
  return found ? found.data : null;
}

$("image-input").addEventListener("change", async (event) => {
  const file = event.target.files && event.target.files[0];
  event.target.value = "";
  if (!file) return;
  let text = null;
  try {
    const bitmap = await createImageBitmap(file);
    text = decodeImage(bitmap, bitmap.width, bitmap.height, "attemptBoth");
    bitmap.close();
  } catch {
    text = null;
  }
  if (text === null) {
    show({ ok: false, status: "no_qr", reason: texts.no_qr, source: "local" });
    return;
  }
  serial(() => scan(text));
});

let stream = null;
let lastCode = "";
let lastCodeAt = 0;

function cameraTick() {
  if (!stream) return;
  if (video.readyState >= 2 && video.videoWidth) {
    const text = decodeImage(video, video.videoWidth, video.videoHeight, "dontInvert");
    const nowMs = Date.now();
    if (text !== null && (text !== lastCode || nowMs - lastCodeAt > SAME_CODE_PAUSE_MS)) {
      lastCode = text;
      lastCodeAt = nowMs;
      serial(() => scan(text));
    }
  }
  setTimeout(cameraTick, 150);
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.hidden = true;
  cameraButton.textContent = cameraButton.dataset.start;
}

cameraButton.addEventListener("click", async () => {
  if (stream) {
    stopCamera();
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    show({ ok: false, status: "camera", reason: texts.camera_unavailable, source: "local" });
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
  } catch (error) {
    const denied = error && error.name === "NotAllowedError";
    show({
      ok: false,
      status: "camera",
      reason: denied ? texts.camera_denied : texts.camera_unavailable,
      source: "local",
    });
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  cameraButton.textContent = cameraButton.dataset.stop;
  await video.play().catch(() => {});
  cameraTick();
});

// --- start -----------------------------------------------------------------------------------

window.addEventListener("online", () => {
  showNetwork();
  // One request at a time: the queue first (it is what staff wait for), then the bundle.
  serial(async () => {
    await sync();
    await refreshBundle();
  });
});
window.addEventListener("offline", showNetwork);

async function start() {
  showNetwork();
  showQueue(readQueue().length);
  verifier = await import(config.verifyUrl);
  loadStoredBundle();
  await refreshBundle();
  root.dataset.state = bundle ? "ready" : "no-bundle";
  serial(sync);
  setInterval(() => serial(sync), SYNC_EVERY_MS);
  setInterval(refreshBundle, BUNDLE_EVERY_MS);
  if ("serviceWorker" in navigator) {
    try {
      await navigator.serviceWorker.register(config.serviceWorkerUrl, { scope: config.scope });
      const registration = await navigator.serviceWorker.ready;
      // This page loaded before the worker ran: ask it to keep a copy for offline reloads.
      const channel = new MessageChannel();
      channel.port1.onmessage = (message) => {
        root.dataset.offlineReady = String(Boolean(message.data && message.data.stored));
      };
      registration.active?.postMessage({ type: "cache-page", url: location.href }, [channel.port2]);
    } catch {
      // no offline reload, scanning still works
    }
  }
}

start();
