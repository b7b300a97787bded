// The suite's data, made the way production makes it: master data from fixture.sql (what no
// command creates), then a year of daily meter readings through the handheld import, the last
// three closed months billed by the billing run, and one invoice paid by a bank statement.
//
//   1001: the readings around the end of the oldest billed month arrive late (a second
//         import after that month was billed), so its invoice is estimated and the next run
//         corrects it (KOR); that invoice stays unpaid and is overdue; the next one is paid
//         through the bank; the newest is open. The last days of the main meter carry the
//         handheld's leak flag, which opens a leak alarm.
//   1002: the same three months, nothing paid.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DAY = 86400000;
const iso = (d) => d.toISOString().slice(0, 10);
const firstOfMonth = (d, back) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1));

/** Today in the utility's time zone (the server's "today"), as a UTC midnight Date. */
export function warsawToday() {
  const s = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw' }).format(new Date());
  return new Date(`${s}T00:00:00Z`);
}

/** Litres used on day `d` by each meter: house use (more at weekends), garden in summer. */
function dailyLitres(d) {
  const weekend = [0, 6].includes(d.getUTCDay()) ? 120 : 0;
  const summer = d.getUTCMonth() >= 4 && d.getUTCMonth() <= 8;
  const garden = summer ? 150 + (d.getUTCDate() % 5) * 20 : 0;
  return { house: 280 + weekend + (d.getUTCDate() % 3) * 10, garden };
}

const m3 = (litres) => `${Math.floor(litres / 1000)},${String(litres % 1000).padStart(3, '0')}`;

/** Handheld reading-set lines (`meter;date time;m³;leak`) from the first day to yesterday. */
function readingLines(first, today, leakFrom) {
  const start = 100000; // litres on the register at installation (fixture.sql: 100 m³)
  const reg = { BT1001M: start, BT1001G: start, BT1002M: start };
  const lines = [];
  for (let d = first; d < today; d = new Date(d.getTime() + DAY)) {
    const { house, garden } = dailyLitres(d);
    const leak = d >= leakFrom;
    reg.BT1001G += garden;
    reg.BT1001M += house + garden + (leak ? 400 : 0); // the sub-meter hangs behind the main one
    reg.BT1002M += house - 100;
    const at = `${iso(d)} 07:00`;
    lines.push({ day: d, text: `BT1001M;${at};${m3(reg.BT1001M)};${leak ? 'TAK' : 'NIE'}` });
    lines.push({ day: d, text: `BT1001G;${at};${m3(reg.BT1001G)};NIE` });
    lines.push({ day: d, text: `BT1002M;${at};${m3(reg.BT1002M)};NIE` });
  }
  return lines;
}

/**
 * Builds the fixture in `dbUrl` (migrated, empty). Returns what the checks need to know:
 * the invoices of 1001 by role (overdue, paid, open, correction), 1002's, the meters, today.
 */
export function buildFixture({ bin, dbUrl, work, psql }) {
  const env = { ...process.env, DATABASE_URL: dbUrl, MQTT_URL: '', EWODA_LOG: 'warn' };
  const ewoda = (...args) => execFileSync(bin, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  psql(dbUrl, readFileSync(new URL('./fixture.sql', import.meta.url), 'utf8'));

  const today = warsawToday();
  const month = (back) => firstOfMonth(today, back); // first day of a month before this one
  const first = month(13);
  // The oldest billed month's closing readings of 1001 arrive late: ±8 days around its end.
  const gapFrom = new Date(month(2).getTime() - 8 * DAY);
  const gapTo = new Date(month(2).getTime() + 8 * DAY);
  const lines = readingLines(first, today, new Date(today.getTime() - 3 * DAY));
  const late = (l) => l.text.startsWith('BT1001') && l.day >= gapFrom && l.day < gapTo;
  const importFile = (name, ls) => {
    const file = join(work, name);
    writeFileSync(file, ls.map((l) => l.text).join('\r\n') + '\r\n');
    return ewoda('collect', '--import', file);
  };
  importFile('odczyty.txt', lines.filter((l) => !late(l)));

  const bill = (back) => {
    const m = month(back);
    return ewoda('bill', '--period', iso(m).slice(0, 7), '--issue', '--issued-on', iso(month(back - 1)));
  };
  bill(3); // the oldest month: 1001's is estimated (no reading near its end)
  importFile('odczyty-zalegle.txt', lines.filter(late)); // the late readings arrive
  bill(2); // reconciles the estimate with a correction first
  bill(1);

  const invoices = JSON.parse(psql(dbUrl, `select json_agg(json_build_object(
      'id', i.invoice_id, 'number', i.number, 'kind', i.kind, 'gross', i.gross::text,
      'customer', c.number, 'issued_on', i.issued_on::text, 'estimated', i.estimated) order by i.issued_on, i.invoice_id)
    from invoice i join customer c using (customer_id)`));
  const of = (customer) => invoices.filter((i) => i.customer === customer);
  const vat = (customer) => of(customer).filter((i) => i.kind === 'VAT');
  const [overdue, paid, open] = vat('1001');
  const correction = of('1001').find((i) => i.kind === 'KOR');
  if (!overdue || !paid || !open || !correction || vat('1002').length !== 3) {
    throw new Error(`fixture: unexpected invoices ${JSON.stringify(invoices)}`);
  }

  // The bank statement: 1001 pays the middle invoice in full to their virtual account.
  const iban = psql(dbUrl, `select iban from virtual_account join customer using (customer_id) where number = '1001'`).trim();
  const booked = iso(new Date(new Date(`${paid.issued_on}T00:00:00Z`).getTime() + 5 * DAY));
  const statement = join(work, 'wyciag.csv');
  writeFileSync(statement, [
    'Data księgowania;Data waluty;Kwota;Waluta;Rachunek wirtualny;Rachunek nadawcy;Nadawca;Tytuł;Id transakcji',
    `${booked};${booked};${paid.gross.replace('.', ',')};PLN;${iban};;Anna Nowak;Faktura ${paid.number};BT-0001`,
  ].join('\n') + '\n');
  ewoda('payments', 'import', statement, '--format', 'csv');

  const meter = (serial) => JSON.parse(psql(dbUrl, `select json_build_object('id', m.meter_id, 'serial', m.serial,
      'last_ml', (select volume_ml from reading r where r.meter_id = m.meter_id order by read_at desc limit 1)::text)
    from meter m where serial = '${serial}'`));
  return {
    invoices, overdue, paid, open, correction, other: vat('1002'), iban,
    mainMeter: meter('BT1001M'), otherMeter: meter('BT1002M').id, today: iso(today),
  };
}
