#!/usr/bin/env node
// Browser test of the pyrowire dashboard (static/dashboard.html, served at GET /dashboard).
//
// Drives Debian's Chromium (/usr/bin/chromium) with playwright-core: loads
// URL/dashboard#token=TOKEN, waits until each topic card shows the numbers given in --expect,
// presses "Re-queue" on the dead letter --requeue SID and waits until the server no longer lists
// it, takes a full-page screenshot, and refuses to pass if the page ever shows an unmasked phone
// number, is served without a Content-Security-Policy or breaks it (Chromium then refuses a
// script or style and says so on the console). Exits 0 on success, 1 with a message saying what
// was expected and what the page showed.
//
//   node tests/browser/dashboard.mjs --url http://127.0.0.1:PORT --token TOKEN \
//     --expect '{"sample": {"queue_depth": 0, "completed": 3, "dead_lettered": 1}}' \
//     --requeue SM... --screenshot target/dashboard.png
//
// Options: --timeout MS (each wait, default 15000), --recent SID (repeatable: a row of the latest
// messages that must be shown), --chromium PATH (default $CHROMIUM or /usr/bin/chromium).

import { parseArgs } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const FIELDS = ["queue_depth", "in_flight", "bulk_depth", "completed", "dead_lettered", "sessions"];
// A "+" followed by 8 or more digits: a phone number the server forgot to mask.
const UNMASKED = /\+\d{8,}/;
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

class TestFailure extends Error {}
const fail = (message) => { throw new TestFailure(message); };
const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1) + " s";
const log = (message) => console.log(`[${elapsed()}] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Polls check() every 100 ms until it returns something truthy; rejects after timeout ms.
async function waitFor(timeout, check) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms`);
    await sleep(100);
  }
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      token: { type: "string" },
      expect: { type: "string", default: "{}" },
      requeue: { type: "string" },
      recent: { type: "string", multiple: true, default: [] },
      screenshot: { type: "string" },
      timeout: { type: "string", default: "15000" },
      chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
    },
    strict: true,
  });
  if (!values.url) fail("--url is required (e.g. --url http://127.0.0.1:62023)");
  if (!values.token) fail("--token is required (the profile's dashboard_token)");
  let expect;
  try { expect = JSON.parse(values.expect); } catch (e) { fail(`--expect is not JSON: ${e.message}`); }
  if (!expect || typeof expect !== "object" || Array.isArray(expect)) fail("--expect must be a JSON object of topics");
  for (const [topic, fields] of Object.entries(expect)) {
    if (!fields || typeof fields !== "object") fail(`--expect.${topic} must be an object of fields`);
    for (const [field, value] of Object.entries(fields)) {
      if (!FIELDS.includes(field)) fail(`--expect.${topic}.${field}: unknown field (known: ${FIELDS.join(", ")})`);
      if (!Number.isInteger(value)) fail(`--expect.${topic}.${field} must be an integer, got ${JSON.stringify(value)}`);
    }
  }
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) fail(`--timeout must be a positive number of ms, got ${values.timeout}`);
  return { ...values, url: values.url.replace(/\/+$/, ""), expect, timeout };
}

// Everything the page shows that a failure message may need, read in one evaluate.
async function pageState(page) {
  return page.evaluate(() => {
    const visible = (el) => !!el && !el.hidden && el.getClientRects().length > 0;
    const cards = {};
    for (const card of document.querySelectorAll("[data-topic]")) {
      const fields = {};
      for (const el of card.querySelectorAll("[data-field]")) fields[el.dataset.field] = el.textContent.trim();
      cards[card.dataset.topic] = {
        fields,
        dead: [...card.querySelectorAll("[data-dead-sid]")].map((row) => row.dataset.deadSid),
        recent: [...card.querySelectorAll("[data-recent-sid]")].map((row) => row.dataset.recentSid),
      };
    }
    // All text a person could see or hover: text nodes outside script/style, plus title attributes.
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (["SCRIPT", "STYLE", "TEMPLATE"].includes(node.parentElement?.tagName)
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    while (walker.nextNode()) texts.push(walker.currentNode.nodeValue);
    for (const el of document.querySelectorAll("[title]")) texts.push(el.getAttribute("title"));
    const banner = document.getElementById("error-banner");
    const login = document.getElementById("login");
    return {
      cards,
      text: texts.join("\n"),
      status: document.getElementById("status")?.textContent ?? "(no #status element)",
      banner: visible(banner) ? banner.textContent : null,
      login: visible(login) ? document.getElementById("login-message")?.textContent ?? "" : null,
    };
  });
}

function describePage(state, tracker) {
  const lines = [];
  const topics = Object.keys(state.cards);
  lines.push(`  topic cards on the page: ${topics.length ? topics.join(", ") : "none"}`);
  lines.push(`  status: "${state.status}"`);
  lines.push(`  error banner: ${state.banner === null ? "none" : `"${state.banner}"`}`);
  lines.push(`  token form: ${state.login === null ? "hidden" : `shown, saying "${state.login}"`}`);
  lines.push(`  last GET /dashboard/api/overview: ${tracker.lastOverview ?? "none seen"}`);
  if (tracker.pageErrors.length) lines.push(`  page errors: ${tracker.pageErrors.join(" | ")}`);
  if (tracker.consoleErrors.length) lines.push(`  console errors: ${tracker.consoleErrors.slice(-5).join(" | ")}`);
  return lines.join("\n");
}

function checkMasked(state, when) {
  const match = state.text.match(UNMASKED);
  if (match) {
    const at = state.text.indexOf(match[0]);
    const context = state.text.slice(Math.max(0, at - 40), at + match[0].length + 40).replace(/\s+/g, " ");
    fail(`${when}, the page shows an unmasked phone number "${match[0]}" (…${context}…); ` +
      "numbers must be masked by the server, like +1********67");
  }
}

function mismatches(state, expect, recentSids) {
  const problems = [];
  for (const [topic, fields] of Object.entries(expect)) {
    const card = state.cards[topic];
    if (!card) { problems.push(`  topic ${topic}: no card with data-topic="${topic}"`); continue; }
    const wrong = Object.entries(fields).filter(([field, value]) => Number(card.fields[field]) !== value
      || (card.fields[field] ?? "").trim() === "");
    if (wrong.length) {
      problems.push(`  topic ${topic}: expected ${JSON.stringify(fields)}, ` +
        `page shows ${JSON.stringify(Object.fromEntries(FIELDS.map((f) => [f, card.fields[f] ?? "(missing)"])))}`);
    }
  }
  const shownRecent = Object.values(state.cards).flatMap((card) => card.recent);
  for (const sid of recentSids) {
    if (!shownRecent.includes(sid)) problems.push(`  latest messages: no row with data-recent-sid="${sid}" (shown: ${shownRecent.join(", ") || "none"})`);
  }
  return problems;
}

async function waitForNumbers(page, options, tracker) {
  const deadline = Date.now() + options.timeout;
  let state, problems;
  for (;;) {
    state = await pageState(page);
    checkMasked(state, "while loading");
    problems = mismatches(state, options.expect, options.recent);
    if (problems.length === 0) return state;
    if (tracker.pageErrors.length) break;
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  fail(`the dashboard did not show the expected numbers within ${options.timeout} ms\n` +
    problems.join("\n") + "\n" + describePage(state, tracker));
}

async function requeue(page, sid, options, tracker) {
  const row = page.locator(`[data-dead-sid="${sid}"]`);
  if (await row.count() === 0) {
    const state = await pageState(page);
    const shown = Object.entries(state.cards).map(([t, c]) => `${t}: ${c.dead.join(", ") || "none"}`).join("; ");
    fail(`no dead-letter row with data-dead-sid="${sid}" on the page (dead letters shown: ${shown})\n` +
      describePage(state, tracker));
  }
  const button = row.locator("button.requeue");
  if (await button.count() !== 1) fail(`the dead-letter row for ${sid} has ${await button.count()} button.requeue elements, expected 1`);

  const isRequeuePost = (response) => response.request().method() === "POST"
    && new URL(response.url()).pathname.endsWith(`/dead/${encodeURIComponent(sid)}/requeue`);
  const [response] = await Promise.all([
    page.waitForResponse(isRequeuePost, { timeout: options.timeout }).catch(() =>
      fail(`pressing Re-queue for ${sid} sent no POST …/dead/${sid}/requeue within ${options.timeout} ms`)),
    button.click({ timeout: options.timeout }),
  ]);
  const body = await response.text().catch(() => "");
  if (response.status() !== 200) fail(`POST ${new URL(response.url()).pathname} answered ${response.status()}: ${body}`);
  let answer = {};
  try { answer = JSON.parse(body); } catch (e) { fail(`POST …/requeue answered 200 with a body that is not JSON: ${body}`); }
  if (answer.requeued !== sid) fail(`POST …/requeue answered ${body}; expected "requeued": "${sid}"`);
  log(`re-queue POST answered 200: ${body}`);

  // The server must no longer list it: wait for an overview requested after the POST answered
  // (CDP events arrive in order, so request sequence numbers tell "after" reliably).
  const overview = await waitFor(options.timeout, () =>
    tracker.overviews.find((o) => o.seq > tracker.postAnsweredSeq)?.response)
    .catch(() => fail(`no overview refresh within ${options.timeout} ms after the re-queue`));
  const data = await overview.json().catch(() => null);
  const stillDead = (data?.topics ?? []).filter((t) => (t.dead_letters ?? []).some((d) => d.sid === sid));
  if (stillDead.length) {
    fail(`the overview fetched after the re-queue still lists ${sid} as a dead letter of ${stillDead.map((t) => t.name).join(", ")} ` +
      "(if the re-queued job failed again at once, make it succeed in the test setup)");
  }
  await row.waitFor({ state: "detached", timeout: options.timeout }).catch(async () =>
    fail(`the dead-letter row for ${sid} was still shown ${options.timeout} ms after the re-queue\n` +
      describePage(await pageState(page), tracker)));
  log(`dead letter ${sid} re-queued as job ${answer.job_id} and gone from the table`);
}

async function run(options) {
  const userDataDir = await mkdtemp(path.join(tmpdir(), "pyrowire-dashboard-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: options.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 30000,
    }).catch((e) => fail(`could not start Chromium at ${options.chromium}: ${e.message.split("\n")[0]}`));
    const page = context.pages()[0] ?? await context.newPage();
    const tracker = { pageErrors: [], consoleErrors: [], lastOverview: null, seq: 0, requestSeq: new WeakMap(),
      overviews: [], postAnsweredSeq: Infinity };
    page.on("pageerror", (error) => tracker.pageErrors.push(error.message));
    page.on("console", (message) => { if (message.type() === "error") tracker.consoleErrors.push(message.text()); });
    page.on("request", (request) => tracker.requestSeq.set(request, ++tracker.seq));
    page.on("response", (response) => {
      const pathname = new URL(response.url()).pathname;
      if (pathname.endsWith("/api/overview")) {
        tracker.lastOverview = `HTTP ${response.status()}`;
        tracker.overviews.push({ seq: tracker.requestSeq.get(response.request()), response });
      } else if (pathname.endsWith("/requeue") && response.request().method() === "POST") {
        tracker.postAnsweredSeq = tracker.seq;
      }
    });
    page.on("requestfailed", (request) => {
      if (new URL(request.url()).pathname.endsWith("/api/overview")) tracker.lastOverview = `failed: ${request.failure()?.errorText}`;
    });

    const target = `${options.url}/dashboard#token=${encodeURIComponent(options.token)}`;
    const response = await page.goto(target, { waitUntil: "domcontentloaded", timeout: options.timeout })
      .catch((e) => fail(`could not load ${options.url}/dashboard: ${e.message.split("\n")[0]}`));
    if (!response || response.status() !== 200) fail(`GET ${options.url}/dashboard answered ${response?.status()}, expected 200`);
    const type = response.headers()["content-type"] ?? "";
    if (!type.startsWith("text/html")) fail(`GET /dashboard has Content-Type "${type}", expected text/html`);
    if (!response.headers()["content-security-policy"]) fail("GET /dashboard has no Content-Security-Policy header");
    log(`loaded ${options.url}/dashboard`);

    const state = await waitForNumbers(page, options, tracker);
    log(`numbers match: ${Object.keys(options.expect).map((t) => `${t} ${JSON.stringify(state.cards[t].fields)}`).join("; ") || "(nothing expected)"}`);

    if (options.requeue) await requeue(page, options.requeue, options, tracker);

    const final = await pageState(page);
    checkMasked(final, "at the end");
    if (final.banner !== null) fail(`the page shows an error banner at the end: "${final.banner}"`);
    if (final.login !== null) fail(`the page shows the token form at the end: "${final.login}"`);
    if (tracker.pageErrors.length) fail(`the page threw: ${tracker.pageErrors.join(" | ")}`);
    const refused = tracker.consoleErrors.filter((text) => text.includes("Content Security Policy"));
    if (refused.length) fail(`the page breaks its Content-Security-Policy: ${refused.join(" | ")}`);
    if (options.screenshot) {
      await page.screenshot({ path: options.screenshot, fullPage: true });
      log(`screenshot written to ${options.screenshot}`);
    }
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

// A last guard so a wedged browser can never hang the test suite.
setTimeout(() => { console.error("FAIL: dashboard browser test still running after 120 s; giving up"); process.exit(1); }, 120000).unref();

try {
  const options = parseOptions();
  await run(options);
  console.log(`dashboard browser test passed in ${elapsed()}`);
  process.exit(0);
} catch (error) {
  const message = error instanceof TestFailure ? error.message : (error?.stack ?? String(error));
  console.error(`FAIL: ${message}`);
  process.exit(1);
}
