// SASLprep on RFC 4013's examples; invalid strings fall back to the raw password as PostgreSQL does.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { saslprep } from '../../../src/protocol/auth/saslprep.js';

it('maps, normalizes and falls back as RFC 4013 and PostgreSQL say', () => {
  assert.equal(saslprep('I\u00ADX'), 'IX'); // soft hyphen mapped to nothing
  assert.equal(saslprep('user'), 'user');
  assert.equal(saslprep('USER'), 'USER'); // case preserved
  assert.equal(saslprep('\u00AA'), 'a'); // NFKC
  assert.equal(saslprep('\u2168'), 'IX'); // NFKC
  assert.equal(saslprep('a\u00A0b'), 'a b'); // non-ASCII space to space
  // Prohibited (control character) or bidi-invalid: PostgreSQL uses the password as given.
  assert.equal(saslprep('a\u0007b'), 'a\u0007b');
  assert.equal(saslprep('\u0627\u0031'), '\u0627\u0031');
  assert.equal(saslprep('\u0627\u0031\u0628'), '\u0627\u0031\u0628'); // valid RandAL string, unchanged
  assert.equal(saslprep('p\u00E9'), 'p\u00E9');
  assert.equal(saslprep('pe\u0301'), 'p\u00E9'); // composed by NFKC
});
