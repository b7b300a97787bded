// The customer's jobs in eBOK (issue 10), each as the customer does it in the browser and
// checked by what the customer then sees: an invoice and its PDF, paying online through the
// fake operator (by mouse and by keyboard alone), a reading with a photo, a contact-data
// change, consents, an application. The fixture (fixture.mjs) provides the data.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A 1×1 PNG: the meter photo. */
const PHOTO = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/** Grosze from an English money text ("PLN 1,234.56", "1,234.56 zł"); no floats. */
export function grosze(text) {
  const m = /(−|-)?\s*(?:PLN\s*)?([\d,]+)\.(\d{2})/.exec(text || '');
  if (!m) throw new Error(`no amount in ${JSON.stringify(text)}`);
  const value = BigInt(m[2].replace(/,/g, '')) * 100n + BigInt(m[3]);
  return m[1] ? -value : value;
}
const toGrosze = (decimal) => BigInt(decimal.replace('.', '').replace(/^(-?)0+(?=\d)/, '$1'));

export async function customerJobs({ browser, origin, login, check, assert, fixture, work, psql, dbUrl }) {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = await ctx.newPage();
  await login(page, 'klient');
  const en = (path) => page.goto(`${origin}${path}${path.includes('?') ? '&' : '?'}lang=en`);
  const text = async (sel) => ((await page.textContent(sel)) || '').replace(/\s+/g, ' ').trim();
  const balance = async () => {
    await en('/ebok/');
    const t = await text('#balance');
    return t.startsWith('To pay') ? grosze(t) : t.startsWith('Overpayment') ? -grosze(t) : 0n;
  };

  await check('view an invoice: list, detail with lines and VAT, status; a correction names what it corrects', async () => {
    await en('/ebok/invoices');
    const list = await text('main');
    for (const i of [fixture.overdue, fixture.paid, fixture.open, fixture.correction]) {
      assert(list.includes(i.number), `invoice list shows ${i.number}`);
    }
    assert(!fixture.other.some((i) => list.includes(i.number)), 'list shows none of customer 1002');
    await Promise.all([page.waitForNavigation(), page.click(`main a:text-is("${fixture.open.number}")`)]);
    assert((await text('h1')).includes(fixture.open.number), 'detail heading names the invoice');
    assert(grosze(await text('#gross')) === toGrosze(fixture.open.gross), `gross ${await text('#gross')} = ${fixture.open.gross}`);
    assert((await text('#status')) === 'open', 'status open: ' + await text('#status'));
    assert((await page.$$('#lines tbody tr')).length >= 3, 'water, sewage and fee lines');
    assert((await page.$$('#vat tbody tr')).length >= 1, 'VAT summary');
    await page.goto(`${origin}/ebok/invoices/${fixture.open.id}?lang=pl`);
    const items = await text('#lines tbody');
    assert(items.includes('woda') && items.includes('ścieki') && items.includes('m³') && !items.includes('sewage'), 'lines in Polish: ' + items);
    await en(`/ebok/invoices/${fixture.paid.id}`);
    assert((await text('#status')) === 'paid', 'the bank-paid invoice is paid: ' + await text('#status'));
    await en(`/ebok/invoices/${fixture.overdue.id}`);
    assert((await text('#status')) === 'overdue', 'the oldest is overdue: ' + await text('#status'));
    await en(`/ebok/invoices/${fixture.correction.id}`);
    assert((await text('#corrects')).includes(fixture.overdue.number), 'the correction corrects the estimated invoice');
  });

  await check("another customer's invoice, meter and PDF are not found", async () => {
    const other = fixture.other[0];
    for (const path of [`/ebok/invoices/${other.id}`, `/ebok/invoices/${other.id}/pdf`, `/ebok/meters/${fixture.otherMeter}`]) {
      const resp = await page.goto(`${origin}${path}?lang=en`);
      assert(resp.status() === 404, `${path}: ${resp.status()}`);
      assert(!(await page.content()).includes(other.number), `${path} leaks nothing`);
    }
  });

  await check('download the invoice PDF (content type, %PDF, the invoice number inside)', async () => {
    await en(`/ebok/invoices/${fixture.open.id}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#pdf')]);
    const file = join(work, 'invoice.pdf');
    await download.saveAs(file);
    const bytes = execFileSync('head', ['-c', '5', file], { encoding: 'latin1' });
    assert(bytes === '%PDF-', `PDF magic: ${JSON.stringify(bytes)}`);
    const resp = await page.request.get(`${origin}/ebok/invoices/${fixture.open.id}/pdf`);
    assert(resp.headers()['content-type'] === 'application/pdf', 'content-type ' + resp.headers()['content-type']);
    const pdfText = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' });
    assert(pdfText.includes(fixture.open.number), 'the PDF is the invoice ' + fixture.open.number);
  });

  await check('pay online through the fake operator and see the balance change', async () => {
    const before = await balance();
    const last = await text('#last-reading');
    assert(last.includes(fixture.mainMeter.serial) && !/\.\d{4,}/.test(last), 'dashboard: the main meter, in m³: ' + last);
    await en('/ebok/payments');
    await page.check(`input[name=item][value="${fixture.open.id}"]`);
    await Promise.all([page.waitForNavigation(), page.click('#pay button[type=submit]')]);
    assert(!page.url().startsWith(origin), 'sent to the operator: ' + page.url());
    const amount = BigInt((await text('h1')).replace(/\D/g, ''));
    assert(amount === toGrosze(fixture.open.gross), `operator asks ${amount} gr for ${fixture.open.gross}`);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    assert(page.url().startsWith(`${origin}/ebok/payments/return`), 'back in eBOK: ' + page.url());
    assert(grosze(await text('#result')) === amount, 'the result names the amount: ' + await text('#result'));
    const after = await balance();
    assert(after === before - amount, `balance ${before} → ${after} gr after paying ${amount}`);
    await en('/ebok/payments');
    const history = await text('#payments');
    assert(history.includes(fixture.open.number), 'payment history shows the allocation');
    await en(`/ebok/invoices/${fixture.open.id}`);
    assert((await text('#status')) === 'paid', 'invoice now paid');
  });

  await check('submit a reading with a photo: shown as pending', async () => {
    await en('/ebok/meters');
    await Promise.all([page.waitForNavigation(), page.click(`main a:has-text("${fixture.mainMeter.serial}")`)]);
    const photo = join(work, 'licznik.png');
    writeFileSync(photo, PHOTO);
    const value = (BigInt(fixture.mainMeter.last_ml) / 1000n + 1500n).toString(); // litres
    const m3 = `${value.slice(0, -3)}.${value.slice(-3)}`;
    await page.fill('#f-value', m3);
    await page.fill('#f-read_on', fixture.today);
    await page.fill('#f-note', 'Odczyt ze zdjęciem');
    await page.setInputFiles('#f-photo', photo);
    await Promise.all([page.waitForNavigation(), page.click('form[enctype="multipart/form-data"] button[type=submit]')]);
    const row = await text('table.submissions tbody tr');
    assert(row.includes(fixture.mainMeter.serial) && row.includes('pending'), 'pending row: ' + row);
    assert(row.includes('with a photo'), 'the row shows its photo: ' + row);
    const stored = psql(dbUrl, `select a.content_type || ' ' || a.size_bytes from submitted_reading s
      join attachment a using (attachment_id) where s.status = 'pending'`).trim();
    assert(stored === `image/png ${PHOTO.length}`, 'photo stored with the submission: ' + stored);
    // The customer can open the photo they sent (a download, with this session's cookie).
    const href = await page.getAttribute('table.submissions tbody tr a[href^="/ebok/attachments/"]', 'href');
    const got = await page.request.get(new URL(href, page.url()).href);
    const body = await got.body();
    assert(got.status() === 200 && got.headers()['content-type'] === 'image/png' && body.equals(PHOTO),
      'the photo downloads as sent: ' + got.status());
  });

  await check('request a contact-data change: awaiting approval, current data unchanged', async () => {
    await en('/ebok/profile');
    await page.fill('#f-email', 'anna.nowak@example.pl');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/ebok/profile/contact"] button[type=submit]')]);
    assert((await text('main')).includes('Your change request was sent'), 'confirmation shown');
    const row = await text('table.requests tbody tr');
    assert(row.includes('anna.nowak@example.pl') && row.includes('waiting for the office'), 'request row: ' + row);
    assert((await text('#current-email')) === 'anna@example.pl', 'current e-mail stays until approved');
  });

  await check('change consents: granted, then withdrawn, both in the history', async () => {
    await en('/ebok/profile');
    await page.check('#c-marketing');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/ebok/profile/consents"] button[type=submit]')]);
    assert((await text('main')).includes('Your consents were saved'), 'saved');
    assert(await page.isChecked('#c-marketing'), 'marketing consent shown as given');
    await page.uncheck('#c-marketing');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/ebok/profile/consents"] button[type=submit]')]);
    // Saving records the customer's decision on every consent of the form; marketing's rows:
    const rows = (await page.$$eval('table.consent-history tbody tr', (trs) => trs.map((t) => t.textContent.replace(/\s+/g, ' '))))
      .filter((r) => r.includes('marketing information'));
    assert(rows.length === 2, 'two marketing rows: ' + rows.join(' | '));
    assert(rows[0].includes('withdrawn') && rows[0].includes('eBOK'), 'newest: ' + rows[0]);
    assert(rows[1].includes('granted') && rows[1].includes('eBOK'), 'first: ' + rows[1]);
    assert(!(await page.isChecked('#c-marketing')), 'marketing consent shown as withdrawn');
  });

  await check('submit an application (general request): a case with a number', async () => {
    await en('/ebok/applications/new/general_request');
    await page.fill('#f-subject', 'Przyłącze ogrodowe');
    await page.fill('#f-content', 'Proszę o informację o terminie wymiany wodomierza.');
    await Promise.all([page.waitForNavigation(), page.click('form[enctype="multipart/form-data"] button[type=submit]')]);
    const main = await text('main');
    assert(/WN\/\d{4}\/\d{5}/.test(main), 'case number shown: ' + main.slice(0, 200));
    assert(main.includes('Przyłącze ogrodowe'), 'case shows its subject');
  });
  await ctx.close();
}

/** Tabs until `want(el)` holds for the focused element; every stop must show its focus. */
async function tabTo(page, assert, want, arg, what) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const visible = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return document.activeElement === document.body || s.outlineStyle !== 'none' || s.boxShadow !== 'none';
    });
    assert(visible, `focus visible on ${await page.evaluate(() => document.activeElement.outerHTML.slice(0, 120))}`);
    if (await page.evaluate(want, arg)) return;
  }
  throw new Error(`Tab never reached ${what}`);
}

export async function keyboardPayment({ browser, origin, login, check, assert, fixture }) {
  await check('keyboard-only payment: invoice list → operator → back, focus always visible', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await login(page, 'klient');
    await page.goto(`${origin}/ebok/invoices?lang=en`);
    const key = async (k) => Promise.all([page.waitForNavigation(), page.keyboard.press(k)]);
    await tabTo(page, assert, () => document.activeElement.getAttribute('href') === '/ebok/' &&
      document.activeElement.closest('main') !== null, null, 'the back-to-eBOK link');
    await key('Enter');
    await tabTo(page, assert, () => document.activeElement.getAttribute('href') === '/ebok/payments#pay', null, 'Pay online');
    await key('Enter');
    await tabTo(page, assert, (id) => document.activeElement.name === 'item' && document.activeElement.value === String(id),
      fixture.overdue.id, 'the overdue invoice');
    await page.keyboard.press('Space');
    assert(await page.isChecked(`input[name=item][value="${fixture.overdue.id}"]`), 'Space ticks the invoice');
    await tabTo(page, assert, () => document.activeElement.type === 'submit', null, 'the pay button');
    await key('Enter');
    assert(!page.url().startsWith(origin), 'on the operator page: ' + page.url());
    await tabTo(page, assert, () => document.activeElement.type === 'submit', null, "the operator's pay button");
    await key('Enter');
    assert(page.url().startsWith(`${origin}/ebok/payments/return`), 'back: ' + page.url());
    // What is open of it: a lowering correction (KOR) folds into the invoice it corrects.
    const kor = toGrosze(fixture.correction.gross);
    const open = toGrosze(fixture.overdue.gross) + (kor < 0n ? kor : 0n);
    const paid = grosze(await page.textContent('#result'));
    assert(paid === open, `paid ${paid} gr of the overdue invoice, open ${open} gr`);
    await ctx.close();
  });
}
