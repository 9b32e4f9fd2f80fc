// The player page in a real browser: Debian's chromium, driven by Playwright, against the
// page and catalog served from the stack's destination bucket through the local cloud's
// CloudFront (the stack's own distribution). Run by tests/browser.rs, which makes the clips,
// uploads them and the catalog, and passes:
//   PLAYER_URL  the page's site (`http://<domain>.localhost:PORT`, the stack's player_url)
//   MODE        "play": every finished video is played; "hevc-only": the one video has
//               only an HEVC source; "empty": no catalog.json yet (CloudFront answers 403,
//               as it does with an OAC that may not list the bucket), the page says nothing
//               is uploaded
//   SCREENSHOT  where to save a screenshot
// Prints one line `RESULT {json}` with what it measured; any failed check exits non-zero.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.env.PLAYER_URL;
const mode = process.env.MODE || "play";
assert.ok(base, "PLAYER_URL is not set");

// The vendored hls.js is byte for byte the npm package the lockfile pins (`npm ci` checked
// that package against the lockfile's integrity).
const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const version = lock.packages["node_modules/hls.js"].version;
const sha = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
assert.equal(
  sha(join(here, "..", "..", "player", "vendor", `hls-${version}.light.min.js`)),
  sha(join(here, "node_modules", "hls.js", "dist", "hls.light.min.js")),
  `player/vendor/hls-${version}.light.min.js is not hls.js ${version}`,
);

const profile = mkdtempSync(join(tmpdir(), "cattube-chromium-"));
// A fresh profile (--user-data-dir) each run: Playwright takes it as launchPersistentContext's.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
  viewport: { width: 1100, height: 760 },
});
const result = { mode, listed: 0, chosen: {}, first_frame_ms: {}, requests_elsewhere: [] };
try {
  const page = context.pages()[0] || (await context.newPage());
  // No request may leave the site (no third-party requests).
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) {
      result.requests_elsewhere.push(r.url());
    }
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  await page.goto(`${base}/`);
  if (mode === "empty") {
    const missing = await page.evaluate(() => fetch("catalog.json", { cache: "no-store" }).then((r) => r.status));
    assert.equal(missing, 403, "a missing catalog answers 403 through the CDN");
    await page.waitForFunction(() => /No videos yet/.test(document.getElementById("list-status").textContent));
    result.list_status = await page.locator("#list-status").textContent();
    assert.deepEqual(errors, [], "errors on the page");
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    console.log(`RESULT ${JSON.stringify(result)}`);
    process.exit(0);
  }
  // Read by the page, not by Node: the local cloud's CDN host (`<domain>.localhost`) is
  // loopback to browsers and curl, not to Node's resolver.
  const catalog = await page.evaluate(() => fetch("catalog.json", { cache: "no-store" }).then((r) => r.json()));
  const newestFirst = catalog.videos.slice().sort((a, b) => b.submitted.localeCompare(a.submitted));
  await page.waitForFunction((n) => document.querySelectorAll("#videos li").length === n, catalog.videos.length);
  const listed = await page.$$eval("#videos li .key", (items) => items.map((i) => i.textContent));
  assert.deepEqual(listed, newestFirst.map((v) => v.key), "the list is the catalog, newest first");
  result.listed = listed.length;
  for (const video of newestFirst.filter((v) => v.status === "PROGRESSING")) {
    const row = page.locator("#videos li", { hasText: video.key });
    assert.match(await row.locator(".meta").textContent(), new RegExp(`${video.percent}%`));
    assert.equal(await row.locator("progress").getAttribute("value"), String(video.percent));
  }

  // What this browser decodes, asked the way the page asks.
  const decodable = (mime) => page.evaluate((m) => MediaSource.isTypeSupported(m), mime);

  let first = true;
  for (const video of newestFirst.filter((v) => v.status === "COMPLETE")) {
    const playable = [];
    for (const o of video.outputs) {
      const mime = o.container === "hls" ? o.mime.replace(/^[^;]*/, "video/mp4") : o.mime;
      if (await decodable(mime)) playable.push(o);
    }
    const link = page.locator("#videos a", { hasText: video.key });
    const started = await page.evaluate(() => performance.now());
    if (first) {
      // Keyboard: focus the link and press Enter.
      await link.focus();
      await page.keyboard.press("Enter");
    } else {
      await link.click();
    }
    first = false;
    await page.waitForFunction((key) => document.getElementById("title").textContent === key, video.key);
    if (playable.length === 0) {
      const message = await page.locator("#message").textContent();
      assert.match(message, /Not playable in this browser/, `${video.key}: ${message}`);
      assert.equal(await page.locator("#video").isHidden(), true);
      result.chosen[video.key] = "none (not playable message)";
      continue;
    }
    await page.waitForFunction(() => document.getElementById("video").readyState >= 2, null, { timeout: 20000 });
    const ready = await page.evaluate(() => performance.now());
    const { codec, src } = await page.evaluate(() => {
      const v = document.getElementById("video");
      v.muted = true;
      v.play();
      return { codec: v.dataset.codec, src: v.currentSrc };
    });
    const t0 = await page.evaluate(() => document.getElementById("video").currentTime);
    await page.waitForFunction((t) => document.getElementById("video").currentTime > t + 0.2, t0, { timeout: 10000 });
    // The source playing is one this browser said it decodes.
    const playing = video.outputs.find((o) => src.endsWith(o.path.split("/").map(encodeURIComponent).join("/")));
    if (playing) assert.ok(playable.includes(playing), `${video.key}: plays ${playing.codec}, which is not decodable`);
    else assert.ok(src.startsWith("blob:"), `${video.key}: plays ${src}`); // hls.js
    result.chosen[video.key] = codec;
    result.first_frame_ms[video.key] = Math.round(ready - started);
  }

  // `#<url-encoded key>` opens that video.
  const target = newestFirst.find((v) => v.status === "COMPLETE");
  const direct = await context.newPage();
  await direct.goto(`${base}/#${encodeURIComponent(target.key)}`);
  await direct.waitForFunction((key) => document.getElementById("title").textContent === key, target.key);
  assert.equal(await direct.locator("#videos a[aria-current=true] .key").textContent(), target.key);

  // HLS through hls.js, as in a browser without native HLS: canPlayType says no to it.
  const hlsVideo = newestFirst.find((v) => v.status === "COMPLETE" && v.outputs.some((o) => o.container === "hls"));
  if (hlsVideo) {
    const noNative = await context.newPage();
    await noNative.addInitScript(() => {
      const original = HTMLMediaElement.prototype.canPlayType;
      HTMLMediaElement.prototype.canPlayType = function (type) {
        return type.startsWith("application/vnd.apple.mpegurl") ? "" : original.call(this, type);
      };
    });
    const started = Date.now();
    await noNative.goto(`${base}/#${encodeURIComponent(hlsVideo.key)}`);
    await noNative.waitForFunction(() => document.getElementById("video").readyState >= 2, null, { timeout: 20000 });
    result.first_frame_ms[`${hlsVideo.key} (hls.js)`] = Date.now() - started;
    const way = await noNative.evaluate(() => {
      const v = document.getElementById("video");
      v.muted = true;
      v.play();
      return { codec: v.dataset.codec, src: v.currentSrc, hls: typeof window.Hls };
    });
    assert.equal(way.hls, "function", "hls.js was not loaded");
    assert.ok(way.src.startsWith("blob:"), `hls.js plays through Media Source: ${way.src}`);
    await noNative.waitForFunction(() => document.getElementById("video").currentTime > 0.3, null, { timeout: 10000 });
    result.chosen[`${hlsVideo.key} (no native HLS)`] = way.codec;
    await noNative.close();
  }

  // Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await page.setViewportSize({ width: 1100, height: 760 });
  if (mode === "play") {
    // The screenshot shows a video playing: the first playable one, paused a moment in.
    await page.locator("#videos a", { hasText: target.key }).click();
    await page.waitForFunction(() => document.getElementById("video").readyState >= 2);
    await page.evaluate(() => { const v = document.getElementById("video"); v.currentTime = 1; v.pause(); });
    await page.waitForTimeout(300);
  }
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  assert.deepEqual(errors, [], "errors on the page");
  assert.deepEqual(result.requests_elsewhere, [], "requests outside the site");
  result.hevc_decodable = await decodable('video/mp4; codecs="hvc1.1.6.L93.B0"');
  result.hls_native = await page.evaluate(() => document.createElement("video").canPlayType("application/vnd.apple.mpegurl"));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`RESULT ${JSON.stringify(result)}`);
