// A bench run that cannot go on: the source is not as the bench needs it, or a contender failed.
import { WalduckError } from '../protocol/errors.js';

export class BenchError extends WalduckError {
  override readonly name = 'BenchError';
  readonly code = 'WALDUCK_BENCH';
  readonly phase = 'bench';
}
