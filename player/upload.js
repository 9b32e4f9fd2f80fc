// cattube's upload page. Reads an upload grant from the address's fragment (#grant=<base64url
// JSON>, as `cattube upload-url --page` prints it), checks the chosen file against it, sends
// it to the source bucket (a presigned POST; or a multipart upload, parts in parallel, a
// failed part sent again and, after that, resumable), then follows the conversion in
// catalog.json and opens the player on the video once it is ready. No framework, no build.
"use strict";

const CATALOG_URL = "catalog.json";
const WATCH_MS = 2000;
// Parts sent at once, and tries per part before the upload pauses for Resume.
const PARALLEL_PARTS = 4;
const TRIES_PER_PART = 3;

const page = {
  grant: document.getElementById("grant"),
  file: document.getElementById("file"),
  send: document.getElementById("send"),
  resume: document.getElementById("resume"),
  progress: document.getElementById("progress"),
  message: document.getElementById("message"),
};

// --- the grant ----------------------------------------------------------------------------

function readGrant() {
  const match = /^#grant=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return null;
  try {
    const base64 = match[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const grant = JSON.parse(new TextDecoder().decode(bytes));
    return grant && (grant.kind === "post" || grant.kind === "multipart") ? grant : null;
  } catch {
    return null;
  }
}

// The source bucket this page may send to: the URL `cattube up` wrote into the page's own
// connect-src (the policy refuses any other; checking first gives a clear message).
function allowedBucket() {
  const policy = document.querySelector('meta[http-equiv="Content-Security-Policy"]').content;
  const connect = policy.split(";").map((d) => d.trim().split(/\s+/)).find((d) => d[0] === "connect-src");
  return (connect || []).find((source) => /^https?:\/\//.test(source)) || null;
}

function grantUrls(grant) {
  return grant.kind === "post" ? [grant.url] : [...grant.parts, grant.complete];
}

function expired(grant) {
  return Date.now() >= Date.parse(grant.expires_at);
}

function expiredMessage(grant) {
  return `This upload link expired at ${new Date(grant.expires_at).toLocaleString()}: nothing was uploaded. Ask for a new one (cattube upload-url --page).`;
}

function oversizeMessage(file, limit) {
  return `${file.name} is ${size(file.size)}; this link takes at most ${size(limit)}. Nothing was uploaded.`;
}

// The largest file the grant takes (a multipart grant: exactly its size).
function limit(grant) {
  return grant.kind === "post" ? grant.max_bytes : grant.size;
}

function size(bytes) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]} (${bytes} bytes)`;
}

// The content type the upload is sent with: the file's own when the grant takes it.
function contentType(grant, file) {
  if (grant.kind === "multipart") return grant.content_type;
  const wanted = grant.fields["Content-Type"] || grant.content_type;
  if (wanted.endsWith("/*")) {
    const family = wanted.slice(0, -1);
    if (file.type.startsWith(family)) return file.type;
    return file.type ? null : `${family}mp4`;
  }
  return !file.type || file.type === wanted ? wanted : null;
}

// The key the upload lands at: S3 fills a prefix grant's ${filename} with the file's name.
function landingKey(grant, file) {
  return grant.key.replace("${filename}", file.name);
}

// Why `file` cannot go up with `grant`, or null.
function refusal(grant, file) {
  if (expired(grant)) return ["expired", expiredMessage(grant)];
  if (file.size > limit(grant)) return ["oversize", oversizeMessage(file, limit(grant))];
  if (grant.kind === "multipart" && file.size !== grant.size) {
    return ["wrong-size", `${file.name} is ${size(file.size)}; this link is for a file of exactly ${size(grant.size)} (each part is signed for its length). Nothing was uploaded.`];
  }
  if (file.size === 0) return ["empty", `${file.name} is empty. Nothing was uploaded.`];
  if (!contentType(grant, file)) {
    return ["type", `${file.name} is ${file.type}; this link takes ${grant.content_type} only. Nothing was uploaded.`];
  }
  return null;
}

// --- sending ------------------------------------------------------------------------------

// One request with upload progress (fetch reports none): resolves with the XHR whatever its
// status; rejects on a network failure (or a refused CORS request, which looks the same).
function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("the bucket did not answer (network error, or its CORS rule does not allow this site: [uploads] allowed-origins)"));
    xhr.send(body);
  });
}

// S3's error document: [Code, Message].
function s3Error(text) {
  const tag = (name) => (new RegExp(`<${name}>([^<]*)</${name}>`).exec(text || "") || [])[1] || "";
  return [tag("Code"), tag("Message")];
}

// S3's refusal of a request, as what the person can do about it.
function explainRefusal(xhr, grant, file) {
  const [code, message] = s3Error(xhr.responseText);
  if (code === "EntityTooLarge") return ["oversize", oversizeMessage(file, limit(grant))];
  if (/expired/i.test(message)) return ["expired", expiredMessage(grant)];
  return ["refused", `The bucket refused the upload (HTTP ${xhr.status}${code ? `, ${code}: ${message}` : ""}).`];
}

class Refused extends Error {
  constructor(outcome, text) {
    super(text);
    this.outcome = outcome;
  }
}

async function post(grant, file, showProgress) {
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
  if (!("Content-Type" in grant.fields)) form.append("Content-Type", contentType(grant, file));
  form.append("file", file);  // last: S3 ignores fields after the file
  const xhr = await send("POST", grant.url, form, null, (loaded) => showProgress(Math.min(loaded, file.size)));
  if (xhr.status < 200 || xhr.status >= 300) throw new Refused(...explainRefusal(xhr, grant, file));
}

// A multipart upload: the ETag of each part sent, kept across Resume.
const sentParts = new Map();

async function multipart(grant, file, showProgress) {
  const count = grant.parts.length;
  const loaded = new Array(count).fill(0);
  for (const number of sentParts.keys()) loaded[number - 1] = partRange(grant, number)[1] - partRange(grant, number)[0];
  const report = () => showProgress(loaded.reduce((a, b) => a + b, 0));
  const waiting = [];
  for (let number = 1; number <= count; number += 1) if (!sentParts.has(number)) waiting.push(number);
  let failure = null;
  const worker = async () => {
    while (waiting.length && !failure) {
      const number = waiting.shift();
      try {
        sentParts.set(number, await sendPart(grant, file, number, (n) => { loaded[number - 1] = n; report(); }));
        const [start, end] = partRange(grant, number);
        loaded[number - 1] = end - start;
        report();
      } catch (error) {
        loaded[number - 1] = 0;
        report();
        failure = failure || { number, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, worker));
  if (failure) {
    if (failure.error instanceof Refused) throw failure.error;
    throw new Paused(failure.number, failure.error.message);
  }
  const completion = "<CompleteMultipartUpload>" +
    [...sentParts.entries()].sort((a, b) => a[0] - b[0])
      .map(([number, etag]) => `<Part><PartNumber>${number}</PartNumber><ETag>${etag}</ETag></Part>`).join("") +
    "</CompleteMultipartUpload>";
  const xhr = await send("POST", grant.complete, completion, { "Content-Type": "application/xml" });
  // S3 may answer 200 and still report an error in the body.
  if (xhr.status !== 200 || /<Error>/.test(xhr.responseText)) throw new Refused(...explainRefusal(xhr, grant, file));
  sentParts.clear();
}

function partRange(grant, number) {
  const start = (number - 1) * grant.part_bytes;
  return [start, Math.min(start + grant.part_bytes, grant.size)];
}

// Sends one part, again on a failure (up to TRIES_PER_PART times); its ETag.
async function sendPart(grant, file, number, onProgress) {
  const [start, end] = partRange(grant, number);
  let lastError = null;
  for (let attempt = 1; attempt <= TRIES_PER_PART; attempt += 1) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
    try {
      const xhr = await send("PUT", grant.parts[number - 1], file.slice(start, end), null, onProgress);
      if (xhr.status === 200) {
        const etag = xhr.getResponseHeader("ETag");
        if (!etag) throw new Error("the bucket's answer shows no ETag (its CORS rule must expose ETag)");
        return etag;
      }
      // 4xx: the grant refuses it (expired, wrong length); sending again cannot help.
      if (xhr.status < 500) throw new Refused(...explainRefusal(xhr, grant, file));
      lastError = new Error(`HTTP ${xhr.status}`);
    } catch (error) {
      if (error instanceof Refused) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

class Paused extends Error {
  constructor(number, reason) {
    super(reason);
    this.number = number;
  }
}

// --- the page -----------------------------------------------------------------------------

let grant = null;
let uploading = false;

function state(name) {
  document.body.dataset.state = name;
}

function say(text, bad) {
  page.message.textContent = text;
  page.message.classList.toggle("bad", bad);
}

function stop(outcome, text) {
  state(outcome);
  say(text, true);
}

function describeGrant() {
  const until = new Date(grant.expires_at).toLocaleString();
  const what = grant.kind === "post"
    ? `up to ${size(grant.max_bytes)}, ${grant.content_type}`
    : `a file of exactly ${size(grant.size)} (${grant.content_type}), in ${grant.parts.length} part(s)`;
  const key = grant.key.includes("${filename}") ? grant.key.replace("${filename}", "<file name>") : grant.key;
  page.grant.textContent = `This link uploads ${what} to ${key}, until ${until}.`;
}

async function start() {
  const file = page.file.files[0];
  if (!file || uploading) return;
  const refused = refusal(grant, file);
  if (refused) {
    stop(...refused);
    return;
  }
  uploading = true;
  page.send.disabled = true;
  page.file.disabled = true;
  page.resume.hidden = true;
  const key = landingKey(grant, file);
  const before = await catalogEntry(key).catch(() => null);
  state("uploading");
  page.progress.hidden = false;
  const showProgress = (sent) => {
    page.progress.value = Math.round((100 * sent) / file.size);
    page.progress.dataset.uploaded = page.progress.value;  // kept while the bar shows the conversion
    say(`Uploading ${file.name}: ${page.progress.value}% (${size(sent)} of ${size(file.size)})`, false);
  };
  showProgress(0);
  try {
    await (grant.kind === "post" ? post(grant, file, showProgress) : multipart(grant, file, showProgress));
  } catch (error) {
    uploading = false;
    if (error instanceof Paused) {
      state("paused");
      say(`Part ${error.number} failed (${error.message}). The parts already sent are kept: Resume sends only what is missing.`, true);
      page.resume.hidden = false;
      return;
    }
    if (error instanceof Refused) {
      stop(error.outcome, error.message);
    } else {
      stop("failed", `The upload failed: ${error.message}.`);
    }
    page.file.disabled = false;
    return;
  }
  state("converting");
  say(`Uploaded ${file.name} as ${key}. Waiting for the conversion…`, false);
  watch(key, before && before.job_id);
}

// --- the conversion -----------------------------------------------------------------------

async function catalogEntry(key) {
  const response = await fetch(CATALOG_URL, { cache: "no-cache" });
  // No catalog yet (through CloudFront, a missing object answers 403).
  if (response.status === 404 || response.status === 403) return null;
  if (!response.ok) throw new Error(`the catalog answered HTTP ${response.status}`);
  const catalog = await response.json();
  return (catalog.videos || []).find((v) => v.key === key) || null;
}

// Follows the key's entry in the catalog until its job (a new one: not `earlierJob`) ends.
async function watch(key, earlierJob) {
  let entry = null;
  try {
    entry = await catalogEntry(key);
  } catch (error) {
    say(`Uploaded ${key}; cannot read the catalog (${error.message}), trying again…`, false);
  }
  if (!entry || (earlierJob && entry.job_id === earlierJob)) {
    setTimeout(() => watch(key, earlierJob), WATCH_MS);
    return;
  }
  switch (entry.status) {
    case "COMPLETE":
      state("ready");
      page.progress.value = 100;
      say(`${key} is ready: opening the player…`, false);
      location.assign(`./#${encodeURIComponent(key)}`);
      return;
    case "SUBMITTED":
    case "PROGRESSING":
      page.progress.value = entry.percent || 0;
      say(entry.status === "SUBMITTED" ? `Uploaded ${key}: waiting to be converted…` : `Converting ${key}: ${entry.percent || 0}%`, false);
      setTimeout(() => watch(key, earlierJob), WATCH_MS);
      return;
    default:
      stop("conversion-failed", `${key} was uploaded but not converted (${entry.status}): ${entry.error || entry.reason || "no reason given"}.`);
  }
}

// --- start --------------------------------------------------------------------------------

function open() {
  grant = readGrant();
  if (!grant) {
    stop("no-grant", "This page needs an upload link: ask for one made with `cattube upload-url --page`.");
    return;
  }
  const bucket = allowedBucket();
  const elsewhere = grantUrls(grant).find((url) => !bucket || !url.startsWith(bucket));
  if (elsewhere) {
    stop("elsewhere", `This link would send your file to ${new URL(elsewhere).origin}, not to this site's bucket: refused.`);
    return;
  }
  describeGrant();
  if (expired(grant)) {
    stop("expired", expiredMessage(grant));
    return;
  }
  state("ready-to-upload");
  page.file.disabled = false;
  say("Choose a video, then Upload.", false);
}

page.file.addEventListener("change", () => {
  const file = page.file.files[0];
  page.send.disabled = true;
  if (!file) return;
  const refused = refusal(grant, file);
  if (refused) {
    stop(...refused);
    return;
  }
  state("ready-to-upload");
  say(`${file.name}, ${size(file.size)}: ready to upload.`, false);
  page.send.disabled = false;
});
page.send.addEventListener("click", start);
page.resume.addEventListener("click", start);
open();
