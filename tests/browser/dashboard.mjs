#!/usr/bin/env node
// The tandem dashboard in headless Chromium (driven by playwright-core):
// sign in, see this node in the cluster view and the live counts arrive
// over the event stream, then create an extension from the Extensions
// page. The last line printed is a JSON report; exit status 0 only if
// every step passed.
//
//   node dashboard.mjs URL USER PASSWORD NODE NEW_NUMBER NEW_PASSWORD [SCREENSHOT_DIR]
//
// CHROMIUM (default /usr/bin/chromium) names the browser; none is downloaded.

import { chromium } from 'playwright-core';

const [url, user, password, node, number, extPassword, shots] = process.argv.slice(2);
const report = { ok: false };
const timeout = 10000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const cellIs = ([selector, text]) =>
  [...document.querySelectorAll(selector)].some((td) => td.textContent === text);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url, { timeout });
  // A wrong password is refused in the page's own form.
  await page.fill('#login-user', user);
  await page.fill('#login-password', 'wrong-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '', null, { timeout });
  report.wrong_password = await page.textContent('#login-error');
  // The right one.
  await page.fill('#login-password', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])', { timeout });
  await page.waitForSelector('#login', { state: 'hidden', timeout });
  await page.waitForFunction(cellIs, ['#nodes tr td:first-child', node], { timeout });
  await page.waitForFunction(() => document.getElementById('c-extensions').textContent !== '–', null, { timeout });
  report.extensions_shown = Number(await page.textContent('#c-extensions'));
  report.live = await page.textContent('#live');
  report.who = await page.textContent('#who');
  if (shots) await page.screenshot({ path: `${shots}/dashboard-overview.png` });
  await page.click('a[data-page=extensions]');
  await page.waitForSelector('#ext-rows tr', { timeout });
  await page.fill('#ext-number', number);
  await page.fill('#ext-password', extPassword);
  await page.fill('#ext-name', 'Made in the dashboard');
  await page.click('#ext-form button[type=submit]');
  await page.waitForFunction(cellIs, ['#ext-rows tr td:first-child', number], { timeout });
  report.created = number;
  if (shots) await page.screenshot({ path: `${shots}/dashboard-extensions.png`, fullPage: true });
  await page.click('a[data-page=cdrs]');
  await page.waitForSelector('#page-cdrs:not([hidden])', { timeout });
  if (shots) await page.screenshot({ path: `${shots}/dashboard-cdrs.png` });
  report.page_errors = errors;
  report.ok = errors.length === 0;
  if (errors.length) report.error = 'errors in the page: ' + errors.join('; ');
} catch (e) {
  report.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
