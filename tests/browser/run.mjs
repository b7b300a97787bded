// The portal's browser suite, in one place. It starts `ewoda serve --fake-payments` on a fresh
// database with staff users (`ewoda user add`) and the fixture (fixture.mjs: two customers
// with a year of readings, invoices from the billing run, a bank payment, a correction, a leak
// alarm, a contract document), then drives Debian's Chromium (never a downloaded browser)
// through playwright-core:
//   - registration with the invoice code, confirmed from the mail the server wrote (read by
//     staff at /office/mail, as without SMTP_URL), then login;
//   - a keyboard-only login;
//   - the customer's jobs (jobs.mjs): an invoice and its PDF, online payment through the fake
//     operator by mouse and by keyboard alone, a reading with a photo, a contact-data change,
//     consents, an application; another customer's records are not found;
//   - axe-core WCAG 2.1 A/AA on every page reachable by links from the public pages and each
//     role's area home, in Polish and English, expecting zero violations; a few eBOK pages
//     again at a phone's width (390 px).
// Environment: DATABASE_URL (server to create the database on), EWODA_BIN (the ewoda binary,
// default $CARGO_TARGET_DIR/debug/ewoda), SCREENSHOTS=dir (a PNG per page visited).
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { buildFixture } from './fixture.mjs';
import { customerJobs, keyboardPayment } from './jobs.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const bin = process.env.EWODA_BIN || join(process.env.CARGO_TARGET_DIR || 'target', 'debug', 'ewoda');
const shots = process.env.SCREENSHOTS;
const PASSWORD = 'browser-test-password';
const STAFF = [['admin', 'admin'], ['urzednik', 'clerk'], ['dyspozytor', 'operator'], ['inkasent', 'reader']];

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
function assert(cond, message) { if (!cond) throw new Error(message); }

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// ---- the server under test -----------------------------------------------------------------
const dbName = `ewoda_browser_${process.pid}`;
const dbUrl = base.replace(/\/[^/?]*(\?.*)?$/, `/${dbName}$1`.replace('undefined', ''));
const work = mkdtempSync(join(tmpdir(), 'ewoda-browser-'));
const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qtAc', sql], { encoding: 'utf8' });

psql(base, `drop database if exists ${dbName}`);
psql(base, `create database ${dbName}`);
writeFileSync(join(work, 'password'), PASSWORD + '\n');
for (const [login, role] of STAFF) {
  execFileSync(bin, ['user', 'add', '--role', role, login, '--password-file', join(work, 'password')], {
    env: { ...process.env, DATABASE_URL: dbUrl }, stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const fixtureStarted = Date.now();
const fixture = buildFixture({ bin, dbUrl, work, psql });
console.log(`fixture: ${fixture.invoices.length} invoices and corrections, a year of readings (${Date.now() - fixtureStarted} ms)`);
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const server = spawn(bin, ['serve', '--port', String(port), '--data-dir', work, '--fake-payments'], {
  env: { ...process.env, DATABASE_URL: dbUrl, SMTP_URL: '', EWODA_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; ; i++) {
  try { if ((await fetch(`${origin}/healthz`)).ok) break; } catch { /* not yet */ }
  if (i > 300) throw new Error('ewoda serve did not become ready');
  await new Promise((r) => setTimeout(r, 100));
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});

async function login(page, user, password = PASSWORD) {
  await page.goto(`${origin}/login`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
}

// ---- flows ---------------------------------------------------------------------------------
await check('register with the invoice code, confirm from the mail, log in', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${origin}/register?lang=en`);
  await page.fill('#f-number', '1001');
  await page.fill('#f-code', 'act1001x');
  await page.fill('#f-email', 'anna@example.pl');
  await page.fill('#f-username', 'klient');
  await page.fill('#f-password', PASSWORD);
  await page.fill('#f-password2', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/register"] button')]);
  assert((await page.textContent('h1')) === 'Check your e-mail', 'registration answered: ' + await page.textContent('h1'));
  // Staff read the mail the server wrote (no SMTP_URL) and the customer follows its link.
  const staff = await (await browser.newContext()).newPage();
  await login(staff, 'urzednik');
  await staff.goto(`${origin}/office/mail?lang=en`);
  await staff.click('tbody a');
  const body = await staff.textContent('pre.mail-body');
  const link = body.match(/https?:\/\/\S+\/register\/confirm\?token=\w+/)[0];
  await page.goto(link.replace(/^https?:\/\/[^/]+/, origin));
  assert((await page.textContent('h1')) === 'Address confirmed', 'confirmation page');
  await login(page, 'klient');
  assert(page.url() === `${origin}/ebok/`, 'lands in eBOK: ' + page.url());
  assert((await page.textContent('main')).includes('1001'), 'dashboard shows the customer number');
  await ctx.close();
});

await check('keyboard-only login (skip link first, visible focus, Enter submits)', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${origin}/login?lang=en`);
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement.classList.contains('skip')), 'skip link is the first stop');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert(outline !== 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  for (let i = 0; i < 20; i++) {
    if (await page.evaluate(() => document.activeElement.name === 'username')) break;
    await page.keyboard.press('Tab');
  }
  assert(await page.evaluate(() => document.activeElement.name === 'username'), 'reached the login field by Tab');
  await page.keyboard.type('urzednik');
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert(page.url() === `${origin}/office/`, 'logged in by keyboard: ' + page.url());
  await ctx.close();
});

// ---- axe on every reachable page -----------------------------------------------------------
// Downloads (PDFs, documents) and the switches that only re-render the same page are not
// crawled; of the pages of one shape (same path with the ids as N, same query keys) the
// first two are checked, so long lists cannot crowd out the detail pages.
const SKIP = [/\/logout/, /export=/, /\/assets\//, /lang=/, /token=/, /\/pdf(\?|$)/, /\/ebok\/documents\/./, /\/ebok\/attachments\//];
const shapeOf = (u) => `${u.pathname.replace(/\d+/g, 'N')}?${[...u.searchParams.keys()].sort().join('&')}`;

let axePages = 0;
let violations = 0;
async function axeCheck(page, url, lang, found) {
  const htmlLang = await page.getAttribute('html', 'lang');
  assert(htmlLang === lang, `${url}: <html lang="${htmlLang}">, expected ${lang}`);
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  axePages++;
  for (const v of result.violations) {
    violations++;
    found.push(`${url}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  }
}

async function screenshot(page, prefix, url) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  const u = new URL(url);
  const file = `${prefix}-${(u.pathname + u.search).replace(/\W+/g, '_')}.png`;
  await page.screenshot({ path: join(shots, file), fullPage: true });
}

/** Visits every page reachable from `starts` (breadth first), checking each with axe. */
async function crawl(page, starts, lang, prefix, found, limit = 70) {
  const seen = new Set();
  const shapes = new Map();
  const queue = starts.map((s) => new URL(s, origin).href);
  const pages = [];
  while (queue.length && pages.length < limit) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const shape = shapeOf(new URL(url));
    if ((shapes.get(shape) || 0) >= 2) continue;
    shapes.set(shape, (shapes.get(shape) || 0) + 1);
    const resp = await page.goto(url);
    if (!resp || !(resp.headers()['content-type'] || '').includes('text/html')) continue;
    pages.push(url);
    await axeCheck(page, url, lang, found);
    await screenshot(page, prefix, url);
    const links = await page.$$eval('a[href]', (as) => as.map((a) => a.href));
    for (const l of links) {
      const u = new URL(l);
      u.hash = '';
      if (u.origin === origin && !SKIP.some((r) => r.test(u.href)) && !seen.has(u.href)) queue.push(u.href);
    }
  }
  return pages;
}

// A phone (390 px wide): the main eBOK pages fit the width (no sideways scrolling of the
// page; wide tables scroll inside their own box) and pass axe there too. It runs before the
// customer pays online, so the dashboard shows the transfer details and the payment QR.
await check('eBOK at 390 px: no sideways scrolling, axe clean', async () => {
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await login(page, 'klient');
  const found = [];
  const paths = ['/ebok/', '/ebok/invoices', `/ebok/invoices/${fixture.paid.id}`, '/ebok/payments',
                 `/ebok/meters/${fixture.mainMeter.id}`, '/ebok/profile'];
  for (const lang of ['pl', 'en']) {
    for (const path of paths) {
      const url = `${origin}${path}?lang=${lang}`;
      await page.goto(url);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 390) found.push(`${path} (${lang}): the page is ${width} px wide`);
      if (path === '/ebok/' && !(await page.$('#transfer'))) found.push(`${url}: no transfer details to check`);
      await axeCheck(page, url, lang, found);
      await screenshot(page, 'mobile', url);
    }
  }
  assert(found.length === 0, `${found.length} problems:\n  ${found.join('\n  ')}`);
  await ctx.close();
});

const jobs = { browser, origin, login, check, assert, fixture, work, psql, dbUrl };
await customerJobs(jobs);
await keyboardPayment(jobs);

// What the customer's crawl must reach, now that the fixture has the data behind the links.
const EBOK_PAGES = [
  ['invoice detail', /\/ebok\/invoices\/\d+$/], ['payments', /\/ebok\/payments$/],
  ['meter page with the reading form', /\/ebok\/meters\/\d+$/], ['documents', /\/ebok\/documents$/],
  ['notices', /\/ebok\/notices$/], ['application form', /\/ebok\/applications\/new\/\w+$/],
  ['application case', /\/ebok\/applications\/\d+$/], ['profile', /\/ebok\/profile$/],
];

const who = [['anonymous', null, ['/', '/login', '/register', '/reset']], ['klient', 'klient', ['/ebok/']],
             ...STAFF.map(([l]) => [l, l, ['/office/', '/console/']])];
for (const lang of ['pl', 'en']) {
  for (const [name, user, starts] of who) {
    await check(`axe WCAG 2.1 A/AA, ${lang}, as ${name}`, async () => {
      // Injecting axe is an inline script, which the portal's CSP rightly refuses.
      const ctx = await browser.newContext({ bypassCSP: true });
      const page = await ctx.newPage();
      if (user) await login(page, user);
      await page.goto(`${origin}/login?lang=${lang}`);
      const found = [];
      const pages = await crawl(page, starts, lang, `${name}-${lang}`, found);
      if (name === 'klient') {
        for (const [what, re] of EBOK_PAGES) {
          assert(pages.some((p) => re.test(new URL(p).pathname)), `the crawl reached no ${what}`);
        }
      }
      assert(found.length === 0, `${found.length} violations:\n  ${found.join('\n  ')}`);
      await ctx.close();
    });
  }
}

await browser.close();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
psql(base, `drop database if exists ${dbName} with (force)`);

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`\nbrowser: ${passed} passed, ${failed} failed; axe: ${axePages} page checks in 2 languages, ${violations} violations`);
process.exit(failed ? 1 : 0);
