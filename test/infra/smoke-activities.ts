// The one activity of the Temporal smoke test: it runs on a real worker process.
export function createSmokeActivities() {
  return {
    async greet(name: string): Promise<string> {
      return `hello, ${name} (from pid ${process.pid})`;
    },
  };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
