// The upload page in a real browser: Debian's chromium, driven by Playwright, against the
// local cloud (local/cloud.py). Run by tests/upload_page.rs, which makes the stack, the
// grants and the files, and passes:
//   PAGE_URL  the upload page's link, the grant in its fragment (`cattube upload-url --page`)
//   FILE      the file to choose
//   MODE      "play": upload, follow the conversion, the player plays it;
//             "refuse": the page refuses the file before sending anything (OUTCOME);
//             "refuse-sent": the page sends it and S3's refusal is shown (OUTCOME);
//             "open-refused": the page refuses the link as soon as it opens (OUTCOME);
//             "resume": a multipart upload whose part FAIL_PART fails every try (its
//             requests aborted) pauses; Resume sends only that part and the upload completes
//   OUTCOME   the page's state expected for the refusals ("oversize", "expired")
//   FAIL_PART with "resume": the part number whose requests fail
//   UPLOAD_BYTES_PER_S  with "play": the upload's throughput (DevTools' throttling)
// Prints one line `RESULT {json}` with what it saw; any failed check exits non-zero.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// TAMPER (JSON): fields changed in the link's grant, as someone editing the link would; the
// signed policy is unchanged, so only S3's answer can refuse what the page then allows.
const url = tamper(process.env.PAGE_URL, process.env.TAMPER);
assert.ok(url && process.env.MODE, "PAGE_URL and MODE are needed");
const mode = process.env.MODE;
const file = process.env.FILE;
const site = new URL(url).origin;

function tamper(link, changes) {
  if (!changes) return link;
  const [base, fragment] = link.split("#grant=");
  const edited = { ...JSON.parse(Buffer.from(fragment, "base64url").toString()), ...JSON.parse(changes) };
  return `${base}#grant=${Buffer.from(JSON.stringify(edited)).toString("base64url")}`;
}
const grant = JSON.parse(Buffer.from(new URL(url).hash.replace(/^#grant=/, ""), "base64url").toString());

const profile = mkdtempSync(join(tmpdir(), "cattube-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
  viewport: { width: 1000, height: 700 },
});
const result = { mode, states: [], progress: [], bucket_requests: [], elsewhere: [] };
const page = context.pages()[0] || (await context.newPage());
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
// Every request: to the site (page, catalog, player) or to the grant's bucket, nowhere else.
const bucket = grant.kind === "post" ? grant.url : grant.complete.split("?")[0].replace(/[^/]*$/, "");
page.on("request", (r) => {
  const u = r.url();
  if (u.startsWith(bucket) || u.startsWith(new URL(bucket).origin)) {
    result.bucket_requests.push(`${r.method()} ${new URL(u).searchParams.get("partNumber") || ""}`.trim());
  } else if (!u.startsWith(site) && !u.startsWith("blob:") && !u.startsWith("data:")) {
    result.elsewhere.push(u);
  }
});
page.on("response", (r) => { if (r.url().startsWith(bucket)) result.last_bucket_status = r.status(); });

const stateIs = (...names) => page.waitForFunction((n) => n.includes(document.body.dataset.state), names, { timeout: 240000 });
// A refusal comes at once (or after one request): not waited for as long as a conversion.
const refusedAs = (name) => page.waitForFunction((n) => document.body.dataset.state === n, name, { timeout: 30000 });
const message = () => page.locator("#message").textContent();

async function run() {
  await page.goto(url);
  // The fragment stays in the browser: the site's server saw only /upload.html.
  if (mode === "open-refused") {
    await refusedAs(process.env.OUTCOME);
    result.message = await message();
    assert.equal(await page.locator("#file").isDisabled(), true, "no file can be chosen");
    return;
  }
  await stateIs("ready-to-upload");
  result.grant_text = await page.locator("#grant").textContent();
  await page.locator("#file").setInputFiles(file);

  if (mode === "refuse") {
    await refusedAs(process.env.OUTCOME);
    result.message = await message();
    assert.equal(await page.locator("#send").isDisabled(), true, "Upload stays disabled");
    return;
  }
  if (mode === "resume") {
    const failPart = process.env.FAIL_PART;
    let failing = true;
    result.aborted = 0;
    await page.route((u) => u.searchParams.get("partNumber") === failPart, (route) => {
      if (failing) {
        result.aborted += 1;
        return route.abort("connectionreset");
      }
      return route.continue();
    });
    await page.locator("#send").click();
    await stateIs("paused");
    result.paused_message = await message();
    result.sent_before_resume = result.bucket_requests.filter((r) => r.startsWith("PUT")).slice();
    failing = false;
    await page.locator("#resume").click();
    await stateIs("converting", "ready");
    result.sent_after_resume = result.bucket_requests.filter((r) => r.startsWith("PUT")).slice(result.sent_before_resume.length);
    result.message = await message();
    return;
  }

  // The upload's progress: every share sent the bar showed (it keeps it in
  // data-uploaded while it shows the conversion), recorded as the page sets it. The
  // upload is slowed (DevTools' network throttling) so that it takes a few seconds.
  await page.evaluate(() => {
    window.uploadedShares = [];
    new MutationObserver(() => window.uploadedShares.push(Number(document.getElementById("progress").dataset.uploaded)))
      .observe(document.getElementById("progress"), { attributes: true, attributeFilter: ["data-uploaded"] });
  });
  const devtools = await context.newCDPSession(page);
  await devtools.send("Network.enable");
  await devtools.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: Number(process.env.UPLOAD_BYTES_PER_S || -1),
  });
  const sampling = setInterval(async () => {
    try {
      result.progress = await page.evaluate(() => window.uploadedShares);
    } catch { /* the page navigated */ }
  }, 100);
  await page.locator("#send").click();
  if (mode === "refuse-sent") {
    await refusedAs(process.env.OUTCOME);
    clearInterval(sampling);
    result.message = await message();
    return;
  }
  assert.equal(mode, "play");
  await stateIs("converting", "ready");
  clearInterval(sampling);
  result.progress = await page.evaluate(() => window.uploadedShares);
  await devtools.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  result.uploaded_message = await message();
  // The page follows the conversion, then opens the player on the video.
  await page.waitForURL((u) => u.pathname === "/" && u.hash.length > 1, { timeout: 300000 });
  result.player_hash = decodeURIComponent(new URL(page.url()).hash.slice(1));
  await page.waitForFunction(() => document.getElementById("video").dataset.codec, null, { timeout: 60000 });
  result.codec = await page.locator("#video").evaluate((v) => v.dataset.codec);
  await page.locator("#video").evaluate((v) => v.play());
  await page.waitForFunction(() => document.getElementById("video").readyState >= 2 && document.getElementById("video").currentTime > 0, null, { timeout: 60000 });
  result.played = true;
}

try {
  await run();
  await finish();
} catch (error) {
  console.log(`RESULT ${JSON.stringify({ ...result, failed: String(error), errors, state: await page.evaluate(() => document.body.dataset.state).catch(() => null), message: await message().catch(() => null) })}`);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}

async function finish() {
  result.errors = errors;
  result.state = await page.evaluate(() => document.body.dataset.state).catch(() => null);
  console.log(`RESULT ${JSON.stringify(result)}`);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(0);
}
