#!/usr/bin/env node
// The package bin: runs the TypeScript CLI through tsx (a runtime dependency).
import { register } from 'tsx/esm/api';

register();
await import('../cli/rdsflow.ts');
