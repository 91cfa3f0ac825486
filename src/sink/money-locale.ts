// money is an integer count of the smallest unit of the database's currency, and how many fraction
// digits that unit has comes from lc_monetary: 2 under C and en_US, 0 under ja_JP, 3 under ar_KW.
// walduck reads every value with lc_monetary=C (protocol/startup.ts), so the text it gets always has
// 2 digits: in a ja_JP database ￥100 arrives as "$1.00", and DuckDB's DECIMAL(19,2) would hold 1.00
// (verify, reading the same way, would call it EQUAL). Such a column is refused when its table is
// described (at start, when it joins, when its schema changes), naming the column and the way out.

import type { PgType, SourceTable } from '../source/catalog.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { TargetError } from './target.js';

/** The source database's own money: lc_monetary as its sessions get it, and its fraction digits. */
export interface MoneyLocale {
  readonly locale: string;
  readonly digits: number;
}

/** The digits walduck's reading (lc_monetary=C) gives money, and DuckDB's DECIMAL(19,2) holds. */
export const READ_DIGITS = 2;

function holdsMoney(t: PgType): boolean {
  return t.typname === 'money' || (t.element !== undefined && holdsMoney(t.element));
}

/**
 * Why `source` cannot be replicated for its money, or undefined: a column holds money and the
 * database's money has other than 2 digits.
 */
export function moneyProblem(source: SourceTable, money: MoneyLocale | undefined): string | undefined {
  if (!money || money.digits === READ_DIGITS) return undefined;
  const col = source.columns.find((c) => holdsMoney(c.type));
  if (!col) return undefined;
  const digits = `${money.digits} fraction digit${money.digits === 1 ? '' : 's'}`;
  const factor = 10 ** Math.abs(READ_DIGITS - money.digits);
  const off = `${factor} times too ${money.digits < READ_DIGITS ? 'small' : 'large'}`;
  return `column ${shownIdent(col.name)} of ${shownName(source)} is ${col.declared}, and the source database's lc_monetary (${money.locale}) gives money ${digits}, while walduck reads money with ${READ_DIGITS} (lc_monetary=C): its amounts would be stored ${off}`;
}

/** Refuses `source` (moneyProblem), saying what to do. */
export function refuseMoneyColumns(source: SourceTable, money: MoneyLocale | undefined): void {
  const problem = moneyProblem(source, money);
  if (problem === undefined) return;
  throw new TargetError(
    `${problem}; change the column to numeric at the source (ALTER TABLE ... ALTER COLUMN ... TYPE numeric keeps the amounts), or leave the table out with --tables`,
  );
}
