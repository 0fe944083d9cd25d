#!/usr/bin/env node
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  environment: process.env,
  onStopSignal: (handler) => {
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  },
  exit: (exitCode) => process.exit(exitCode),
});
// A running server keeps the process alive and exits from its stop handler.
if (code !== undefined) process.exitCode = code;
