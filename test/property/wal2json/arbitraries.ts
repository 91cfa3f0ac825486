// fast-check arbitraries shared by the wal2json property and fuzz tests (not a test file).
import fc from 'fast-check';

/** JSON number text: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? with long digit runs. */
export const jsonNumber = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.bigInt({ min: 1n, max: 10n ** 60n }).map(String)),
    fc.option(fc.stringMatching(/^[0-9]{1,40}$/), { nil: undefined }),
    fc.option(
      fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^[0-9]{1,3}$/)),
      {
        nil: undefined,
      },
    ),
  )
  .map(
    ([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}${exp ? exp.join('') : ''}`,
  );
