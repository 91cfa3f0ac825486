// A loop's wait for a periodic tick or the stop signal; the message pump (pump.ts) races it with the
// stream, `walduck slot` waits on it alone.

/**
 * Wakes a loop on a periodic tick or on the stop signal (which stays fired). Each wait gets its own
 * one-shot promise, resolved by a single shared interval: no timer per message, and no long-lived
 * promise collecting a reaction from every race (which at a million messages would hold a million
 * closures until it fired).
 */
export class Wake {
  private resolve: ((v: 'tick' | 'abort') => void) | undefined;
  private fired = false;
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs: number, signal: AbortSignal | undefined) {
    this.timer = setInterval(() => this.fire('tick'), periodMs);
    this.fired = signal?.aborted ?? false;
    signal?.addEventListener('abort', () => this.fire('abort'), { once: true });
  }

  get aborted(): boolean {
    return this.fired;
  }

  wait(): Promise<'tick' | 'abort'> {
    if (this.fired) return Promise.resolve('abort');
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Waits for `p` or the stop signal, whichever comes first. */
  async until(p: Promise<unknown>): Promise<'done' | 'abort'> {
    const done = p.then(() => 'done' as const);
    for (;;) {
      const r = await Promise.race([done, this.wait()]);
      if (r !== 'tick') return r;
    }
  }

  private fire(v: 'tick' | 'abort'): void {
    if (v === 'abort') this.fired = true;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.(v);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
