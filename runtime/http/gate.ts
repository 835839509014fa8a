/** The server's lock: statements alone, queries and the background drain together. */
/**
 * Many shared holders or one exclusive holder at a time; a waiting exclusive request holds back new shared
 * ones, so a statement is not starved by a steady stream of queries.
 */
export class Gate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { exclusive: boolean; go: () => void }[] = [];

  run<T>(exclusive: boolean, f: () => Promise<T>): Promise<T> {
    return new Promise<void>((go) => {
      if (this.waiting.length === 0 && this.free(exclusive)) this.take(exclusive, go);
      else this.waiting.push({ exclusive, go });
    })
      .then(f)
      .finally(() => {
        if (exclusive) this.exclusive = false;
        else this.shared--;
        this.wake();
      });
  }

  /** Resolves when nothing holds the gate and nothing waits. */
  async idle(): Promise<void> {
    await this.run(true, async () => {});
  }

  private free(exclusive: boolean): boolean {
    return !this.exclusive && (!exclusive || this.shared === 0);
  }

  private take(exclusive: boolean, go: () => void): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
    go();
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.free(this.waiting[0]!.exclusive)) {
      const w = this.waiting.shift()!;
      this.take(w.exclusive, w.go);
      if (w.exclusive) return;
    }
  }
}
