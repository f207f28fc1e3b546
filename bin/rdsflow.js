#!/usr/bin/env node
// The package bin. In a checkout it runs the TypeScript CLI through tsx (a development
// dependency); where only the build output is installed (the image), the compiled CLI.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const sources = new URL('../cli/rdsflow.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import(new URL('../dist/cli/rdsflow.js', import.meta.url).href);
}
