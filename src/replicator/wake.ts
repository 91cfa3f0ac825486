// A stream loop's wait: for the next message, a periodic tick, or the stop signal.

/**
 * Wakes the stream loop on a periodic tick or on the stop signal (which stays fired). Each wait gets
 * its own one-shot promise, resolved by a single shared interval: no timer per message, and no
 * long-lived promise collecting a reaction from every race (which at a million messages would hold
 * a million closures until it fired).
 */
export class Wake {
  private resolve: ((v: 'tick' | 'abort') => void) | undefined;
  private aborted = false;
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs: number, signal: AbortSignal | undefined) {
    this.timer = setInterval(() => this.fire('tick'), periodMs);
    this.aborted = signal?.aborted ?? false;
    signal?.addEventListener('abort', () => this.fire('abort'), { once: true });
  }

  wait(): Promise<'tick' | 'abort'> {
    if (this.aborted) return Promise.resolve('abort');
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  private fire(v: 'tick' | 'abort'): void {
    if (v === 'abort') this.aborted = true;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.(v);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
