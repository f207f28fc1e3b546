// The one activity of the Temporal smoke test: it runs on a real worker process.
export function createSmokeActivities() {
  return {
    greet(name: string): Promise<string> {
      return Promise.resolve(`hello, ${name} (from pid ${process.pid})`);
    },
  };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
