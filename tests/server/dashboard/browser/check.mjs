// Real-browser check of `reitunneld --dashboard`: drives Debian's headless
// chromium (playwright-core, no bundled browser) against a running server
// that has one agent with one tunnel to an echo service and one hook.
//
//   node check.mjs URL TOKEN SCREENSHOT EXPECT_JSON
//
// EXPECT_JSON: {"client_id", "label", "tunnel", "port", "hook"} — what the
// page must show. The script itself sends visitors through 127.0.0.1:port
// once the page is up, so it can see the traffic numbers go from zero to
// non-zero. Exit code 0 = every check passed; the first failed check is
// printed and the exit code is 1. Nothing sleeps: every wait is a
// Playwright wait with a deadline.
//
// playwright-core is resolved from $DASHBOARD_BROWSER_DEPS/node_modules
// (installed with `npm ci` into the build tree) or next to this file.

import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEPS = process.env.DASHBOARD_BROWSER_DEPS || HERE;
const require = createRequire(path.join(DEPS, "package.json"));
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// Generous: the server may be an ASan build on a busy machine.
const T = Number(process.env.DASHBOARD_CHECK_TIMEOUT_MS || 30000);

const [url, token, screenshot, expectJson] = process.argv.slice(2);
if (!url || !token || !screenshot || !expectJson) {
  console.error("usage: node check.mjs URL TOKEN SCREENSHOT EXPECT_JSON");
  process.exit(2);
}
const expect = JSON.parse(expectJson);
const origin = new URL(url).origin;

let step = "start";
const log = (msg) => console.log(`[check] ${msg}`);
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  log(`ok: ${what}`);
}

// One visitor: connect to the tunnel's public port, send `size` bytes, read
// them all back from the echo service, close.
function visitor(port, size) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.alloc(size, 0x61);
    let got = 0;
    const s = net.connect({ host: "127.0.0.1", port });
    s.setTimeout(T, () => s.destroy(new Error(`visitor on :${port} timed out`)));
    s.on("connect", () => s.write(payload));
    s.on("data", (d) => {
      got += d.length;
      if (got >= size) s.end();
    });
    s.on("error", reject);
    s.on("close", () => (got >= size ? resolve(got) : reject(new Error(`visitor got ${got}/${size} bytes`))));
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI containers: chromium's sandbox needs user namespaces.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: T * 2,
  });
  const requests = [];
  const pageErrors = [];
  const cspViolations = [];
  let visitorsStop = false;
  let visitorsLoop = Promise.resolve(0);
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
    context.setDefaultTimeout(T);
    context.on("request", (r) => requests.push(r.url()));
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });

    // --- the API refuses anonymous and wrong-token callers ----------------
    step = "api auth";
    {
      const anon = await context.request.get(`${origin}/api/v1/overview`, { failOnStatusCode: false });
      check(anon.status() === 401, `anonymous GET /api/v1/overview is refused (got ${anon.status()})`);
      const wrong = await context.request.get(`${origin}/api/v1/overview`, {
        headers: { Authorization: "Bearer not-the-token" },
        failOnStatusCode: false,
      });
      check(wrong.status() === 401, `wrong bearer token is refused (got ${wrong.status()})`);
      const session = await (await context.request.get(`${origin}/api/v1/session`)).json();
      check(session.authenticated === false, "no session before login");
    }

    // --- login page; a wrong token is refused -----------------------------
    step = "login page";
    await page.goto(url);
    await page.locator("#login").waitFor({ state: "visible" });
    check(await page.locator("#app").isHidden(), "the dashboard is hidden before login");

    step = "wrong token";
    await page.fill("#token", "not-the-token");
    const [badLogin] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${origin}/api/v1/login`),
      page.click("#login-button"),
    ]);
    check(badLogin.status() === 401, `login with a wrong token answers 401 (got ${badLogin.status()})`);
    const err = page.locator("#login-error");
    await err.waitFor({ state: "visible" });
    check((await err.textContent()).includes("Wrong token"), "the login form says 'Wrong token.'");
    check(await page.locator("#app").isHidden(), "the dashboard stays hidden after a wrong token");

    // --- real login -------------------------------------------------------
    step = "login";
    await page.fill("#token", token);
    const [goodLogin] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${origin}/api/v1/login`),
      page.click("#login-button"),
    ]);
    check(goodLogin.status() === 200, `login with the admin token answers 200 (got ${goodLogin.status()})`);
    await page.locator("#app").waitFor({ state: "visible" });
    check(await page.locator("#login").isHidden(), "the login form is gone");
    const cookies = await context.cookies(origin);
    const sess = cookies.find((c) => c.httpOnly);
    check(sess && sess.sameSite === "Strict", "the session is an HttpOnly SameSite=Strict cookie");
    check(await page.evaluate(() => document.cookie === ""), "the page script cannot read the session cookie");
    await page.locator("#session-method", { hasText: "signed in with the admin token" }).waitFor();
    check(true, "the header says how we signed in");

    // --- the agent --------------------------------------------------------
    step = "agent";
    const agentRow = page.locator(`#agents-table tbody tr[data-client-id="${expect.client_id}"]`);
    await agentRow.waitFor();
    const agentText = await agentRow.innerText();
    check(agentText.includes(expect.client_id.slice(0, 8)), `the agent row shows the client id (${expect.client_id.slice(0, 8)}…)`);
    check(agentText.includes(expect.label), `the agent row shows its label ${expect.label}`);
    await page.locator("#stat-agents", { hasText: /^1$/ }).waitFor();
    check(true, "the summary counts 1 agent");

    // --- the tunnel -------------------------------------------------------
    step = "tunnel";
    const tunnelRow = page.locator(`#tunnels-table tbody tr[data-name="${expect.tunnel}"]`);
    await tunnelRow.waitFor();
    check((await tunnelRow.locator("td.public").innerText()).includes(`:${expect.port}`),
          `the tunnel row shows public port :${expect.port}`);
    await tunnelRow.locator(".pill", { hasText: "open" }).waitFor();
    check(true, "the tunnel is shown open");
    check((await tunnelRow.locator(".kind").textContent()).trim() === "tcp", "the tunnel kind is tcp");
    await page.locator("#stat-tunnels", { hasText: /^1$/ }).waitFor();
    check(true, "the summary counts 1 tunnel");

    // --- the hook ---------------------------------------------------------
    step = "hook";
    const hookRow = page.locator(`#hooks-table tbody tr[data-hook="${expect.hook}"]`);
    await hookRow.waitFor();
    await hookRow.locator(".pill", { hasText: /^ready$/ }).waitFor();
    check(true, `hook ${expect.hook} is shown ready`);
    // client_connect and tunnel_open were both allowed by the hook.
    const allowed = Number((await hookRow.locator("td").nth(4).innerText()).replace(/,/g, ""));
    check(allowed >= 2, `the hook row counts its allow decisions (${allowed})`);
    await page.locator("#stat-hooks", { hasText: "1/1" }).waitFor();
    check(true, "the summary says 1/1 hooks ready");

    // --- traffic: zero before visitors, non-zero after ---------------------
    step = "traffic before";
    const bytesIn = tunnelRow.locator("td.bytes-in");
    const bytesOut = tunnelRow.locator("td.bytes-out");
    check(Number(await bytesIn.getAttribute("data-bytes")) === 0, "no bytes in before any visitor");
    check(Number(await bytesOut.getAttribute("data-bytes")) === 0, "no bytes out before any visitor");

    step = "visitors";
    // Visitors one after another until the page has shown everything below
    // (rates are per 1 s sample, so traffic keeps flowing until one is seen).
    let visitors = 0;
    visitorsLoop = (async () => {
      while (!visitorsStop) {
        await visitor(expect.port, 32 * 1024);
        visitors++;
        // Pacing of the load generator only (nothing waits on it): keeps a
        // steady trickle instead of saturating a small, busy machine.
        await new Promise((r) => setTimeout(r, 100));
      }
      return visitors;
    })();
    const visitorsFailed = visitorsLoop.then(
      () => new Promise(() => {}),
      (e) => { throw new Error(`visitor failed: ${e.message}`); },
    );
    const race = (p) => Promise.race([p, visitorsFailed]);

    step = "traffic after";
    await race(page.waitForFunction((name) => {
      const row = document.querySelector(`#tunnels-table tbody tr[data-name="${name}"]`);
      if (!row) return false;
      return Number(row.querySelector("td.bytes-in").dataset.bytes) > 0 &&
             Number(row.querySelector("td.bytes-out").dataset.bytes) > 0;
    }, expect.tunnel, { timeout: T }));
    check(true, "the tunnel's byte totals became non-zero");
    await race(page.waitForFunction(() => !/^0 B /.test(document.getElementById("stat-in-total").textContent) &&
                                          !/^0 B /.test(document.getElementById("stat-out-total").textContent),
                                    null, { timeout: T }));
    check(true, `the summary totals became non-zero (${await page.locator("#stat-in-total").innerText()} in)`);
    await race(page.waitForFunction(() => document.getElementById("stat-in-rate").textContent !== "0 B/s" &&
                                          document.getElementById("stat-in-rate").textContent !== "–",
                                    null, { timeout: T }));
    check(true, `the live in-rate became non-zero (${await page.locator("#stat-in-rate").innerText()})`);
    await race(page.waitForFunction((name) => {
      const row = document.querySelector(`#tunnels-table tbody tr[data-name="${name}"]`);
      const sub = row && row.querySelector("td:nth-child(7) .sub");
      return sub && !/\/ 0$/.test(sub.textContent.trim());
    }, expect.tunnel, { timeout: T }));
    check(true, "the tunnel row counts its visitors");

    // --- the event stream -------------------------------------------------
    step = "events";
    await race(page.locator(`#events li[data-type="visitor_disconnect"]`, { hasText: expect.tunnel }).first().waitFor());
    check(true, "the event stream shows a visitor of the tunnel");
    check(await page.locator("#events-empty").isHidden(), "the event list is not empty");
    check((await page.locator("#events-note").innerText()).includes("recording since"),
          "the event panel says it is recording");
    // The agent connected before anyone opened the dashboard: still listed.
    check(await page.locator(`#events li[data-type="client_connect"]`).count() >= 1,
          "the agent's connect, from before the first viewer, is in the event list");
    visitorsStop = true;
    const n = await visitorsLoop;
    check(n >= 1, `${n} visitor(s) went through the tunnel`);

    step = "charts";
    // The throughput chart has samples to draw (not "collecting samples…").
    await page.waitForFunction(() => {
      const c = document.getElementById("chart-traffic");
      return c.width > 0 && c.height > 0;
    });
    check(true, "the throughput chart is drawn");

    step = "layout";
    const overflowing = await page.evaluate(() =>
      [...document.querySelectorAll(".table-wrap")]
        .filter((w) => w.scrollWidth > w.clientWidth + 1)
        .map((w) => (w.querySelector("table") || {}).id));
    check(overflowing.length === 0,
          `no table needs a horizontal scrollbar at 1440 px (too wide: ${overflowing.join(", ") || "none"})`);

    // --- screenshot -------------------------------------------------------
    step = "screenshot";
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    const size = fs.statSync(screenshot).size;
    check(size > 0, `screenshot ${screenshot} written (${size} bytes)`);

    // --- sign out ---------------------------------------------------------
    step = "logout";
    await page.click("#logout");
    await page.locator("#login").waitFor({ state: "visible" });
    const after = await context.request.get(`${origin}/api/v1/overview`, { failOnStatusCode: false });
    check(after.status() === 401, `after sign-out the API refuses the browser's cookie (got ${after.status()})`);

    // --- everything came from the dashboard itself -------------------------
    step = "origins";
    check(requests.length >= 4, `the page made ${requests.length} requests`);
    for (const want of ["/app.js", "/app.css", "/api/v1/overview", "/api/v1/events"]) {
      check(requests.some((r) => new URL(r).pathname === want), `the page loaded ${want}`);
    }
    const foreign = requests.filter((r) => new URL(r).origin !== origin);
    check(foreign.length === 0, `every request went to ${origin} (foreign: ${JSON.stringify(foreign.slice(0, 5))})`);
    check(pageErrors.length === 0, `no uncaught script errors (${JSON.stringify(pageErrors.slice(0, 3))})`);
    check(cspViolations.length === 0, `no CSP violations (${JSON.stringify(cspViolations.slice(0, 3))})`);
  } finally {
    visitorsStop = true;
    await visitorsLoop.catch(() => {});
    await browser.close();
  }
}

main().then(
  () => {
    log("all checks passed");
    process.exit(0);
  },
  (e) => {
    console.error(`[check] FAILED at step "${step}": ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
