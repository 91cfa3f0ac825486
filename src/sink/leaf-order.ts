// A leaf partition's columns in its root's order. wal2json lists a change's columns in the order of
// the relation that holds the row, the leaf; a table attached as a partition may hold the root's
// columns in another physical order (created apart, or with a dropped column). The schema check
// (schema-follow.ts) reads column order as attnum order of the root: fed a leaf's order it took a
// reordering for renames (x and y swapped in every row, exit 0) or for type changes. So a leaf's
// image is put in the root's order first, by the root attnum of each name as the catalog shows it.
// The catalog may be past the change (a later rename, drop or swap): when the leaf's names now do not
// list the image's in its order, the recorded attnums place them instead (decide), and a name known
// to neither stops the change in one line rather than being placed by a guess.

import type { Lsn } from '../protocol/lsn.js';
import type { SchemaCatalog } from '../source/schema-catalog.js';
import type { Delete, Insert, RowImage, TableRef, Update } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { refuse, type SchemaPolicy } from './schema-change.js';
import type { RecordedTable } from './source-schema.js';

type RowChange = Insert | Update | Delete;

interface Layout {
  /** The leaf's live column names in its attnum order (catalog now); empty when the leaf is gone. */
  readonly leaf: readonly string[];
  /** The root's attnum of each live column name (catalog now). */
  readonly rank: ReadonlyMap<string, number>;
  /** The leaf lists the root's columns in the root's order now. */
  readonly same: boolean;
  /** Per image names array (decoders reuse them), how it is placed: the schema check's identity test still holds. */
  readonly placed: WeakMap<readonly string[], Placed | 'as-is' | 'refuse'>;
}

/** An image's arrays in the root's order: `from[i]` is the image index of output column i. */
interface Placed {
  readonly names: readonly string[];
  readonly types: readonly string[];
  readonly typeOids: readonly number[] | undefined;
  readonly from: readonly number[];
}

export class LeafOrder {
  private readonly layouts = new Map<string, Layout>();
  /** A leaf's include-pk arrays (reused by the decoder) in the root's order. */
  private readonly keys = new WeakMap<readonly string[], readonly string[]>();

  constructor(private readonly catalog: SchemaCatalog) {}

  /** The change with its images in the root's column order (the same object when already so). */
  inRootOrder(
    change: RowChange,
    leaf: TableRef & { readonly oid?: string },
    root: RecordedTable,
    policy: SchemaPolicy,
  ): RowChange | Promise<RowChange> {
    const oid = leaf.oid;
    if (oid === undefined) return change;
    // The usual case, without a promise per row: a leaf in the root's order whose image names
    // (arrays the decoder reuses) were placed as they are before, and its key's order known.
    const layout = this.layouts.get(oid);
    const pk = change.pk;
    const key = pk === undefined || pk.length < 2 ? pk : this.keys.get(pk);
    if (
      layout?.same &&
      (key !== undefined) === (pk !== undefined) &&
      (change.kind === 'delete'
        ? layout.placed.get(change.old.names) === 'as-is'
        : layout.placed.get(change.new.names) === 'as-is' &&
          (change.kind === 'insert' || !change.old || layout.placed.get(change.old.names) === 'as-is'))
    )
      return key === pk || key === undefined ? change : { ...change, pk: key };
    return this.placeAll(change, oid, leaf, root, policy);
  }

  private async placeAll(
    change: RowChange,
    oid: string,
    leaf: TableRef,
    root: RecordedTable,
    policy: SchemaPolicy,
  ): Promise<RowChange> {
    const place = async (image: RowImage): Promise<RowImage> => {
      let layout = this.layouts.get(oid) ?? (await this.read(oid, root.oid));
      let p = layout.placed.get(image.names);
      if (p === undefined) {
        if (!fits(layout, image)) layout = await this.read(oid, root.oid);
        // The root is gone: dropped, and the leaf is a new root's of its name (in the transaction
        // that created it, before the catalog check saw the drop). The schema check finds the
        // recorded root gone by its oid and re-copies the table of that name (schema-plan.ts), as
        // the check would: nothing to place by, and nothing kept for the new root.
        if (layout.rank.size === 0) {
          this.layouts.delete(oid);
          return image;
        }
        p = decide(layout, image, root);
        layout.placed.set(image.names, p);
      }
      if (p === 'as-is') return image;
      if (p === 'refuse') throw refused(leaf, image, root, change.lsn, policy);
      const values = p.from.map((i) => image.values[i] ?? null);
      return p.typeOids
        ? { names: p.names, types: p.types, typeOids: p.typeOids, values }
        : { names: p.names, types: p.types, values };
    };
    const placed =
      change.kind === 'delete'
        ? { ...change, old: await place(change.old) }
        : change.kind === 'insert'
          ? { ...change, new: await place(change.new) }
          : {
              ...change,
              new: await place(change.new),
              ...(change.old ? { old: await place(change.old) } : {}),
            };
    // include-pk lists the key in the leaf's attnum order too; the check compares it with the root's.
    const pk = change.pk;
    if (pk === undefined || pk.length < 2) return placed;
    const names = placed.kind === 'delete' ? placed.old.names : placed.new.names;
    let key = this.keys.get(pk);
    if (key === undefined) {
      key = pk.every((k) => names.includes(k))
        ? [...pk].sort((a, b) => names.indexOf(a) - names.indexOf(b))
        : pk;
      this.keys.set(pk, key);
    }
    return { ...placed, pk: key };
  }

  private async read(leafOid: string, rootOid: string): Promise<Layout> {
    // One session: one query at a time.
    const leafCols = await this.catalog.columns(leafOid);
    const rootCols = await this.catalog.columns(rootOid);
    const leaf = leafCols.filter((c) => !c.dropped).map((c) => c.name);
    const root = rootCols.filter((c) => !c.dropped);
    const rank = new Map(root.map((c) => [c.name, c.attnum]));
    const same = leaf.length === root.length && leaf.every((n, i) => root[i]?.name === n);
    const layout = { leaf, rank, same, placed: new WeakMap() };
    this.layouts.set(leafOid, layout);
    return layout;
  }
}

function decide(layout: Layout, image: RowImage, rec: RecordedTable): Placed | 'as-is' | 'refuse' {
  if (fits(layout, image)) return layout.same ? 'as-is' : placement(image, (n) => layout.rank.get(n));
  // The catalog is past the change. DDL on the root never makes a leaf's order differ where it did
  // not, so a leaf in the root's order now was so then: taken as it comes, as before.
  if (layout.same) return 'as-is';
  // Otherwise (or the leaf is gone) each name is placed by its attnum as recorded (the record is older
  // than the change), a column added since the record by its attnum now (newer than every recorded one).
  const recorded = new Map(rec.columns.filter((c) => !c.dropped).map((c) => [c.name, c.attnum]));
  const rank = (n: string) => recorded.get(n) ?? layout.rank.get(n);
  return image.names.every((n) => rank(n) !== undefined) ? placement(image, rank) : 'refuse';
}

function refused(
  leaf: TableRef,
  image: RowImage,
  root: RecordedTable,
  lsn: Lsn,
  policy: SchemaPolicy,
): Error {
  return refuse(
    root,
    lsn,
    `a change of its partition ${shownName(leaf)}, whose columns are in another order than the root's, lists columns (${image.names.map(shownIdent).join(', ')}) that neither the source catalog now nor the recorded schema places, so walduck cannot put them in the root's order`,
    policy,
  );
}

/** The image's names appear, in its order, among the leaf's names now, and each is a root column now. */
function fits(layout: Layout, image: RowImage): boolean {
  let j = 0;
  for (const name of image.names) {
    while (j < layout.leaf.length && layout.leaf[j] !== name) j++;
    if (j === layout.leaf.length || !layout.rank.has(name)) return false;
    j++;
  }
  return true;
}

function placement(image: RowImage, rank: (name: string) => number | undefined): Placed {
  const from = image.names.map((_, i) => i);
  from.sort((a, b) => (rank(image.names[a] ?? '') ?? 0) - (rank(image.names[b] ?? '') ?? 0));
  const typeOids = image.typeOids;
  return {
    names: from.map((i) => image.names[i] ?? ''),
    types: image.types.length > 0 ? from.map((i) => image.types[i] ?? '') : image.types,
    typeOids: typeOids ? from.map((i) => typeOids[i] ?? 0) : undefined,
    from,
  };
}
