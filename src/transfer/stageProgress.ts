export interface StageInProgress {
  filesDone: number;
  filesTotal: number;
  /** Bytes received so far (a re-sent part counts again). */
  bytes: number;
  /** Average since the start, bytes per second. */
  rate: number;
}

/** Counts files and bytes of a stage-in and reports them, at most once per interval. */
export class ProgressMeter {
  private bytes = 0;
  private done = 0;
  private lastReport = Number.NEGATIVE_INFINITY;
  private readonly started: number;

  constructor(
    private readonly total: number,
    private readonly clock: () => number,
    private readonly intervalMs: number,
    private readonly report?: (p: StageInProgress) => void,
  ) {
    this.started = clock();
  }

  get totalBytes(): number {
    return this.bytes;
  }

  seconds(): number {
    return (this.clock() - this.started) / 1000;
  }

  add(bytes: number): void {
    this.bytes += bytes;
    this.emit(false);
  }

  fileDone(): void {
    this.done += 1;
    this.emit(true);
  }

  private emit(force: boolean): void {
    if (!this.report) return;
    const now = this.clock();
    if (!force && now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.bytes / seconds : 0;
    this.report({ filesDone: this.done, filesTotal: this.total, bytes: this.bytes, rate });
  }
}
