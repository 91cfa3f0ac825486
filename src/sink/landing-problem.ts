// Why a source table cannot land in a DuckDB table as walduck makes one, though it can be replicated:
// two of its columns one apart only in case, or money read at another scale than the database's.
// --tables refuses such a table in one line (target.ts, money-locale.ts, when it is described). In
// all-tables mode it is skipped instead, like a table without a key (one line, recorded skipped, its
// changes dropped), so that one such table does not stop every other one, and it joins (copied online)
// once the source is changed so that it can land.

import type { SourceTable } from '../source/catalog.js';
import { type MoneyLocale, moneyProblem } from './money-locale.js';
import { columnCollision } from './target.js';

export function landingProblem(source: SourceTable, money: MoneyLocale | undefined): string | undefined {
  return columnCollision(source) ?? moneyProblem(source, money);
}
