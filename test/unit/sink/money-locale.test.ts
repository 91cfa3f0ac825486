// The refusal of money columns when the source database's money has other than 2 fraction digits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refuseMoneyColumns } from '../../../src/sink/money-locale.js';
import type { PgType, SourceTable } from '../../../src/source/catalog.js';

const money: PgType = { typname: 'money', typmod: -1, typtype: 'b' };
const text: PgType = { typname: 'text', typmod: -1, typtype: 'b' };
const table = (...cols: [string, string, PgType][]): SourceTable => ({
  schema: 'public',
  table: 't',
  columns: cols.map(([name, declared, type]) => ({ name, declared, type, notNull: false })),
  key: [0],
  identity: 'default',
});

describe('refuseMoneyColumns', () => {
  const withMoney = table(['id', 'text', text], ['Amount', 'money', money]);
  it('lets money through at 2 digits, or when not checked', () => {
    refuseMoneyColumns(withMoney, { locale: 'en_US.UTF-8', digits: 2 });
    refuseMoneyColumns(withMoney, undefined);
  });
  it('lets a table without money through whatever the digits', () => {
    refuseMoneyColumns(table(['id', 'text', text]), { locale: 'ja_JP.UTF-8', digits: 0 });
  });
  it('refuses money, an array of it, naming the column and how far off the amounts would be', () => {
    assert.throws(
      () => refuseMoneyColumns(withMoney, { locale: 'ja_JP.UTF-8', digits: 0 }),
      /column "Amount" of public\.t is money, .*\(ja_JP\.UTF-8\) gives money 0 fraction digits.*100 times too small/,
    );
    const arr = table(
      ['id', 'text', text],
      ['a', 'money[]', { typname: '_money', typmod: -1, typtype: 'b', element: money, dims: 1 }],
    );
    assert.throws(
      () => refuseMoneyColumns(arr, { locale: 'ar_KW.UTF-8', digits: 3 }),
      /column a of public\.t is money\[\].*3 fraction digits.*10 times too large/,
    );
  });
});
