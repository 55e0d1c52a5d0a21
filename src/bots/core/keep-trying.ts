/**
 * Runs `operation` until it succeeds, waiting a little longer after each failure, for up to
 * `budgetMs`; then the last error is thrown. For small writes that must not be lost to a brief
 * outage of the store they go to (a record that a message was already sent).
 */
export async function keepTrying<T>(operation: () => Promise<T>, budgetMs: number, firstDelayMs = 100): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = firstDelayMs; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await operation();
    } catch (error) {
      if (Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
