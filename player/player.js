// cattube's player. Reads catalog.json (kept by the converter function beside this page),
// lists the videos newest first, and plays the one chosen: its outputs become <source>
// elements carrying their codecs, keeping only those this browser says it can decode.
// `#<url-encoded key>` in the address opens that video. No framework, no build step.
"use strict";

const CATALOG_URL = "catalog.json";
// hls.js, served beside this page, for browsers without native HLS (all but Safari).
const HLS_JS_URL = "player/vendor/hls-1.6.15.light.min.js";
// While a conversion is unfinished, the catalog is read again this often.
const REFRESH_MS = 5000;
const UNFINISHED = ["SUBMITTED", "PROGRESSING"];

const page = {
  title: document.getElementById("title"),
  video: document.getElementById("video"),
  message: document.getElementById("message"),
  list: document.getElementById("videos"),
  listStatus: document.getElementById("list-status"),
  count: document.getElementById("count"),
};

let videos = [];        // the catalog's entries, newest first
let playingKey = null;  // the key of the video in the <video> element
let hlsPlayer = null;   // the hls.js instance, when one is in use
let refreshTimer = null;
let maybePrivate = false; // the catalog answered 403 and the page holds no signed cookies

// --- signed access (a private stack) ------------------------------------------------------

const SIGNED_COOKIES = ["CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"];

// `cattube open` on a private stack hands the page CloudFront's three signed cookies in the
// fragment (`#cf=POLICY.SIGNATURE.KEY-PAIR-ID&v=KEY`), which no request carries to a server.
// They are set for this site, valid until the policy expires, and the fragment is replaced
// by the video's key alone, so the signature stays out of the address bar and history.
function takeSignedCookies() {
  const fragment = location.hash.slice(1);
  if (!fragment.startsWith("cf=")) return;
  const params = new URLSearchParams(fragment);
  const values = (params.get("cf") || "").split(".");
  if (values.length === SIGNED_COOKIES.length) {
    let expires = "";
    try {
      const policy = JSON.parse(atob(values[0].replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/")));
      const epoch = policy.Statement[0].Condition.DateLessThan["AWS:EpochTime"];
      expires = `; expires=${new Date(epoch * 1000).toUTCString()}`;
    } catch (error) {
      // A policy the page cannot read still goes to CloudFront, which judges it.
    }
    const secure = location.protocol === "https:" ? "; Secure" : "";
    SIGNED_COOKIES.forEach((name, i) => {
      document.cookie = `${name}=${values[i]}; path=/${expires}; SameSite=Strict${secure}`;
    });
  }
  const key = params.get("v");
  history.replaceState(null, "", location.pathname + (key ? `#${encodeURIComponent(key)}` : ""));
}

function hasSignedCookies() {
  return SIGNED_COOKIES.every((name) => document.cookie.split("; ").some((c) => c.startsWith(`${name}=`)));
}

// --- reading the catalog ------------------------------------------------------------------

async function loadCatalog() {
  clearTimeout(refreshTimer);
  let catalog;
  maybePrivate = false;
  try {
    const response = await fetch(CATALOG_URL, { cache: "no-cache" });
    // No catalog yet (nothing uploaded). CloudFront answers a missing key with 403, not 404:
    // its origin access control may only s3:GetObject, and S3 answers a caller that may not
    // s3:ListBucket with 403 (granting CloudFront ListBucket would publish every key).
    // A private stack answers 403 too, without the signed cookies: the page cannot tell the
    // two apart, so it says both (docs/private-videos.md).
    if (response.status === 404 || response.status === 403) {
      catalog = { videos: [] };
      maybePrivate = response.status === 403 && !hasSignedCookies();
    } else if (!response.ok) {
      throw new Error(`the catalog answered HTTP ${response.status}`);
    } else {
      catalog = await response.json();
    }
  } catch (error) {
    page.listStatus.textContent = `Cannot read the catalog: ${error.message}.`;
    refreshTimer = setTimeout(loadCatalog, REFRESH_MS);
    return;
  }
  videos = (catalog.videos || []).slice().sort(newestFirst);
  showList();
  if (videos.some((v) => UNFINISHED.includes(v.status))) {
    refreshTimer = setTimeout(loadCatalog, REFRESH_MS);
  }
  openFromAddress();
}

function newestFirst(a, b) {
  return String(b.submitted || "").localeCompare(String(a.submitted || ""));
}

// --- the list -----------------------------------------------------------------------------

function showList() {
  page.count.textContent = `(${videos.length})`;
  page.listStatus.textContent = videos.length
    ? ""
    : "No videos yet: upload one with `cattube upload cat.mp4`." +
      (maybePrivate ? " A private stack shows its videos only when opened with `cattube open`." : "");
  page.list.replaceChildren(...videos.map(listItem));
}

function listItem(video) {
  const link = document.createElement("a");
  link.href = "#" + encodeURIComponent(video.key);
  if (video.key === playingKey) link.setAttribute("aria-current", "true");

  const key = document.createElement("span");
  key.className = "key";
  key.textContent = video.key;

  const meta = document.createElement("span");
  meta.className = `meta status-${video.status}`;
  meta.textContent = describe(video);
  link.append(key, meta);

  if (UNFINISHED.includes(video.status)) {
    const bar = document.createElement("progress");
    bar.max = 100;
    if (video.percent != null) bar.value = video.percent;  // no value: indeterminate
    bar.setAttribute("aria-label", `${video.key}: converting`);
    link.append(bar);
  }
  const item = document.createElement("li");
  item.dataset.status = video.status;
  item.append(link);
  return item;
}

function describe(video) {
  const parts = [];
  switch (video.status) {
    case "COMPLETE":
      if (video.duration_ms != null) parts.push(duration(video.duration_ms));
      break;
    case "PROGRESSING":
      parts.push(video.percent != null ? `converting, ${video.percent}%` : "converting");
      break;
    case "SUBMITTED":
      parts.push("waiting to be converted");
      break;
    case "ERROR":
      parts.push(`failed: ${video.error || "conversion error"}`);
      break;
    case "REJECTED":
      // Over a [job] limit: no job was submitted (docs/conversion.md).
      parts.push(`not converted: ${video.error || "over a limit"}`);
      break;
    default:
      parts.push(String(video.status).toLowerCase());
  }
  if (video.submitted) parts.push(new Date(video.submitted).toLocaleString());
  return parts.join(" · ");
}

function duration(ms) {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

// --- choosing and playing -----------------------------------------------------------------

// Opens the video the address names (`#cats%2Ftabby%20cat.mp4`), if it is not open yet.
function openFromAddress() {
  const key = decodeURIComponent(location.hash.slice(1));
  const video = videos.find((v) => v.key === key);
  if (!key || !video) return;
  if (key !== playingKey) open(video);
  for (const [i, link] of page.list.querySelectorAll("a").entries()) {
    if (videos[i].key === key) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

function open(video) {
  page.title.textContent = video.key;
  if (video.status !== "COMPLETE") {
    stop();
    playingKey = null;  // opened again once the catalog says it is done
    const done = UNFINISHED.includes(video.status) ? "is still being converted" : `did not convert (${video.status})`;
    say(`This video ${done}.`, false);
    return;
  }
  stop();
  playingKey = video.key;
  const outputs = (video.outputs || []).filter((o) => o.path && o.mime);
  const hls = outputs.find((o) => o.container === "hls" && hlsWay(o));
  if (hls) {
    playHls(hls);
    return;
  }
  const files = outputs.filter((o) => o.container !== "hls" && canDecode(o.mime)).sort(bestFirst);
  if (files.length === 0) {
    const codecs = [...new Set(outputs.map((o) => o.codec.toUpperCase()))].join(", ") || "none";
    say(`Not playable in this browser: this video is available as ${codecs} only, which this browser cannot decode. Try another browser (Safari plays HEVC).`, true);
    page.video.hidden = true;
    return;
  }
  for (const output of files) {
    const source = document.createElement("source");
    source.src = outputUrl(output.path);
    source.type = output.mime;
    page.video.append(source);
  }
  page.video.dataset.codec = files[0].codec;
  showVideo(files[0]);
  page.video.load();
}

// MediaSource.isTypeSupported answers for the exact codecs; canPlayType's "maybe" is too
// vague to rely on, so without MSE only "probably" counts.
function canDecode(mime) {
  if (window.MediaSource && MediaSource.isTypeSupported(mime)) return true;
  return page.video.canPlayType(mime) === "probably";
}

// Highest resolution first; at the same height, the more efficient codec.
function bestFirst(a, b) {
  const efficiency = { av1: 3, hevc: 2, h264: 1 };
  return (b.height || 0) - (a.height || 0) || (efficiency[b.codec] || 0) - (efficiency[a.codec] || 0);
}

// How this browser plays an HLS output: "native" (Safari), "hls.js" (Media Source
// Extensions with the ladder's codecs, as hls.js remuxes to fragmented MP4), or none.
function hlsWay(output) {
  if (page.video.canPlayType("application/vnd.apple.mpegurl")) return "native";
  const codecs = output.mime.replace(/^[^;]*/, "video/mp4");
  if (window.MediaSource && MediaSource.isTypeSupported(codecs)) return "hls.js";
  return null;
}

async function playHls(output) {
  const url = outputUrl(output.path);
  page.video.dataset.codec = `${output.codec} (hls, ${hlsWay(output)})`;
  showVideo(output);
  if (hlsWay(output) === "native") {
    page.video.src = url;
    return;
  }
  try {
    await loadScript(HLS_JS_URL);
  } catch {
    say("Cannot load hls.js, which this browser needs for HLS.", true);
    return;
  }
  hlsPlayer = new window.Hls();
  hlsPlayer.on(window.Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) say(`Playback failed: ${data.details}.`, true);
  });
  hlsPlayer.loadSource(url);
  hlsPlayer.attachMedia(page.video);
}

function loadScript(src) {
  if (window.Hls) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

function showVideo(output) {
  page.video.hidden = false;
  const size = output.height ? `${output.height}p ` : "";
  say(`Playing ${size}${output.codec.toUpperCase()}.`, false);
}

function stop() {
  if (hlsPlayer) hlsPlayer.destroy();
  hlsPlayer = null;
  page.video.pause();
  page.video.removeAttribute("src");
  page.video.replaceChildren();
  delete page.video.dataset.codec;
}

// The URL of an output: its path below the site's root, each segment URL-encoded.
function outputUrl(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

function say(text, bad) {
  page.message.textContent = text;
  page.message.classList.toggle("bad", bad);
}

page.video.addEventListener("error", () => {
  if (page.video.error) say(`Playback failed: ${page.video.error.message || "the browser could not play it"}.`, true);
});
window.addEventListener("hashchange", openFromAddress);
takeSignedCookies();
loadCatalog();
